// Package chart tests the aimesh Helm chart: its `helm template` output
// against golden files, and the value keys other programs rely on. The
// API server accepts what it renders: see test/kube.
package chart

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/test/kubeenv"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	chartDir  = "deploy/chart/aimesh"
	namespace = "aimesh-system"
)

// eksValues are the values deploy/eks sets (aimeshValues in workloads.go).
var eksValues = []string{
	"--set", "replicaCount=3",
	"--set", "gateway.port=8080",
	"--set", "gateway.service.type=LoadBalancer",
	"--set", `gateway.service.annotations.service\.beta\.kubernetes\.io/aws-load-balancer-type=nlb`,
	"--set", "serviceMonitor.enabled=true",
	"--set", "image.repository=123456789012.dkr.ecr.us-west-2.amazonaws.com/aimesh",
	"--set", "image.tag=v0.1.0-test",
	"--set", "mesh=ai-mesh",
}

func TestTemplateGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"eks", eksValues},
		{"single-replica", []string{"--set", "replicaCount=1", "--set", "leaderElect=false", "--set", "meshListener.enabled=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kubeenv.HelmTemplate(t, "aimesh", chartDir, namespace, tt.args...)
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("helm template differs from %s (run `go test ./deploy/chart -update` to accept):\n%s", golden, diff(string(want), string(got)))
			}
		})
	}
}

// TestValuesContract checks what the Pulumi EKS program relies on:
// replicaCount, image.repository/tag, gateway.port and
// gateway.service.type/annotations, serviceMonitor.enabled, and the
// gateway Service's name, aimesh-gateway for release aimesh.
func TestValuesContract(t *testing.T) {
	objs := decode(t, kubeenv.HelmTemplate(t, "aimesh", chartDir, namespace, eksValues...))
	dep := find(t, objs, "Deployment", "aimesh")
	if got := dig(dep, "spec", "replicas"); got != float64(3) {
		t.Errorf("replicas = %v, want 3", got)
	}
	c := dig(dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	if got := c["image"]; got != "123456789012.dkr.ecr.us-west-2.amazonaws.com/aimesh:v0.1.0-test" {
		t.Errorf("image = %v", got)
	}
	svc := find(t, objs, "Service", "aimesh-gateway")
	if got := dig(svc, "spec", "type"); got != "LoadBalancer" {
		t.Errorf("gateway Service type = %v", got)
	}
	if got := dig(svc, "metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-type"); got != "nlb" {
		t.Errorf("gateway Service NLB annotation = %v", got)
	}
	port := dig(svc, "spec", "ports").([]any)[0].(map[string]any)
	if port["port"] != float64(8080) || port["targetPort"] != "gateway" {
		t.Errorf("gateway Service port = %v", port)
	}
	find(t, objs, "ServiceMonitor", "aimesh")
	// The Lease the RBAC allows is the one `aimesh run --mesh ai-mesh` uses.
	role := find(t, objs, "Role", "aimesh-leader-election")
	if !strings.Contains(toYAML(t, role), "aimesh-status-ai-mesh") {
		t.Errorf("leader election Role does not name Lease aimesh-status-ai-mesh:\n%s", toYAML(t, role))
	}
}

func TestGracePeriodMustExceedDrain(t *testing.T) {
	helm := kubeenv.HelmPath(t)
	root, err := kubeenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(helm, "template", "aimesh", filepath.Join(root, chartDir),
		"--set", "terminationGracePeriodSeconds=20", "--set", "drainTimeoutSeconds=30").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must exceed preStopSleepSeconds + drainTimeoutSeconds") {
		t.Fatalf("helm template with a grace period below the drain timeout: err=%v\n%s", err, out)
	}
}

func decode(t *testing.T, manifests []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(string(manifests), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("decode rendered manifest: %v\n%s", err, doc)
		}
		if len(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

func find(t *testing.T, objs []map[string]any, kind, name string) map[string]any {
	t.Helper()
	for _, o := range objs {
		if o["kind"] == kind && dig(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the rendered chart", kind, name)
	return nil
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func toYAML(t *testing.T, o any) string {
	b, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
