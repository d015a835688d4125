package kube

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/kube"
	"github.com/aimesh/aimesh/test/kubeenv"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestRunKubernetesBinary runs the aimesh binary as the chart does (`aimesh
// run --kubernetes --kubeconfig ... --namespace ...`) against the seed mesh:
// it becomes ready, elects itself, writes status, and on SIGTERM drains,
// hands the Lease back and exits 0. It needs no root: the model servers'
// Services have no endpoints.
func TestRunKubernetesBinary(t *testing.T) {
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := testContext(t, 3*time.Minute)
	c := newClient(t, env)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai", Labels: map[string]string{"aimesh.io/mesh": "ai-mesh"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		port int32
	}{{"llm-v1", 9001}, {"llm-v2", 9002}, {"ai-app", 8080}} {
		createService(t, ctx, c, "ai", s.name, s.port, nil)
	}
	port := freePort(t)
	mustKubectl(t, ctx, env, seedMesh(t, port), "apply", "-f", "-")

	bin := buildAimesh(t, ctx)
	admin := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var out bytes.Buffer
	cmd := exec.Command(bin, "run", "--kubernetes", "--kubeconfig", env.KubeconfigPath(), "--namespace", "default",
		"--listen-address", "127.0.0.1", "--mesh-listen", "127.0.0.1:0", "--admin", admin, "--drain-timeout", "2s")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("aimesh output:\n%s", out.String())
		}
	})

	eventually(t, 60*time.Second, "/readyz", func() error {
		_, _, err := get(ctx, "http://"+admin, "/readyz", "")
		return err
	})
	eventually(t, 30*time.Second, "router status", func() error {
		return readyStatus(ctx, c, &v1.VirtualRouter{}, "ai", "ai-virtual-router", metav1.ConditionTrue, kube.ReasonServed)
	})
	// The gateway listener answers: nothing to forward to, but routed.
	if code, _, _ := chat(ctx, "http://127.0.0.1:"+strconv.Itoa(port)); code != 503 {
		t.Errorf("chat with no model-server endpoints: status %d, want 503", code)
	}
	var lease coordinationv1.Lease
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "aimesh-status"}, &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h == "" {
		t.Errorf("no Lease holder")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("aimesh exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aimesh did not exit within 30s of SIGTERM")
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "aimesh-status"}, &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("Lease still held by %q after a clean exit: the next replica waits out the lease", *h)
	}
}

// buildAimesh builds cmd/aimesh into a temporary directory.
func buildAimesh(t *testing.T, ctx context.Context) string {
	t.Helper()
	root, err := kubeenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "aimesh")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/aimesh")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/aimesh: %v\n%s", err, out)
	}
	return bin
}
