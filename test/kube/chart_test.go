package kube

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/kube"
	"github.com/aimesh/aimesh/test/kubeenv"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const (
	chartDir       = "deploy/chart/aimesh"
	chartNamespace = "aimesh-system"
	serviceAccount = "system:serviceaccount:aimesh-system:aimesh"
)

// TestChart renders the Helm chart, has the API server accept every object
// it renders (server-side dry run, CRDs included), then installs its RBAC
// and runs the control plane as the chart's service account: what the
// ClusterRole and Role grant is enough to serve and write status, and no
// more than that.
func TestChart(t *testing.T) {
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := testContext(t, 3*time.Minute)
	c := newClient(t, env)
	for _, ns := range []string{chartNamespace, "ai"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("server-side dry run", func(t *testing.T) {
		for _, values := range [][]string{
			nil,
			// The values the Pulumi EKS program sets (no ServiceMonitor: its
			// CRD belongs to the Prometheus Operator).
			{"--set", "replicaCount=3", "--set", "gateway.service.type=LoadBalancer",
				"--set", `gateway.service.annotations.service\.beta\.kubernetes\.io/aws-load-balancer-type=nlb`,
				"--set", "mesh=ai-mesh", "--set", "image.tag=test"},
		} {
			objs := rendered(t, append([]string{"--include-crds"}, values...)...)
			kinds := map[string]int{}
			for _, u := range objs {
				kinds[u.GetKind()]++
				err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
					client.FieldOwner("aimesh-chart-test"), client.ForceOwnership, client.DryRunAll)
				if err != nil {
					t.Errorf("%s %s refused: %v", u.GetKind(), u.GetName(), err)
				}
			}
			for kind, n := range map[string]int{"CustomResourceDefinition": 6, "Deployment": 1, "Service": 2,
				"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1, "RoleBinding": 1, "PodDisruptionBudget": 1} {
				if kinds[kind] != n {
					t.Errorf("%v: rendered %d %s, want %d", values, kinds[kind], kind, n)
				}
			}
		}
	})

	t.Run("RBAC", func(t *testing.T) {
		for _, u := range rendered(t) {
			switch u.GetKind() {
			case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
				if err := c.Create(ctx, u); err != nil {
					t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
		}
		for _, o := range []client.Object{
			&v1.Mesh{ObjectMeta: metav1.ObjectMeta{Name: "ai-mesh"}, Spec: v1.MeshSpec{NamespaceSelector: &metav1.LabelSelector{}}},
			&v1.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "a.local"}},
		} {
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		cfg := env.Config()
		cfg.Impersonate.UserName = serviceAccount
		g := gateway.New(gateway.Options{ListenAddress: "127.0.0.1", Kubernetes: true, Log: slog.New(slog.DiscardHandler)})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = kube.Run(runCtx, g, kube.Options{Config: cfg, Namespace: chartNamespace, LeaderElect: true,
				Identity: "chart-test", Log: slog.New(slog.NewTextHandler(newLogWriter(t, "aimesh"), &slog.HandlerOptions{Level: slog.LevelWarn}))})
		}()
		t.Cleanup(func() {
			stop()
			<-done
			_ = g.Shutdown(context.Background())
		})
		eventually(t, 60*time.Second, "status written as the service account", func() error {
			return readyStatus(ctx, c, &v1.VirtualService{}, "ai", "a.local", metav1.ConditionTrue, kube.ReasonServed)
		})
		var lease coordinationv1.Lease
		if err := c.Get(ctx, types.NamespacedName{Namespace: chartNamespace, Name: "aimesh-status"}, &lease); err != nil {
			t.Fatalf("the Lease the chart's Role names: %v", err)
		}
		if h := lease.Spec.HolderIdentity; h == nil || *h != "chart-test" {
			t.Errorf("Lease holder %v, want chart-test", h)
		}

		for _, tt := range []struct {
			attrs   authorizationv1.ResourceAttributes
			allowed bool
		}{
			{authorizationv1.ResourceAttributes{Verb: "watch", Group: "discovery.k8s.io", Resource: "endpointslices"}, true},
			{authorizationv1.ResourceAttributes{Verb: "patch", Group: "aimesh.io", Resource: "virtualrouters", Subresource: "status", Namespace: "ai"}, true},
			{authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: "aimesh-status", Namespace: chartNamespace}, true},
			{authorizationv1.ResourceAttributes{Verb: "update", Group: "aimesh.io", Resource: "virtualrouters", Namespace: "ai"}, false},
			{authorizationv1.ResourceAttributes{Verb: "delete", Group: "aimesh.io", Resource: "meshes"}, false},
			{authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: chartNamespace}, false},
			{authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: "other", Namespace: chartNamespace}, false},
			{authorizationv1.ResourceAttributes{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "ai"}, false},
			{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "services", Namespace: "ai"}, false},
			{authorizationv1.ResourceAttributes{Verb: "create", Resource: "events", Namespace: chartNamespace}, false},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: serviceAccount, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + chartNamespace, "system:authenticated"},
				ResourceAttributes: &tt.attrs}}
			if err := c.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tt.allowed {
				t.Errorf("%s %s %s/%s %s/%s: allowed=%v, want %v", tt.attrs.Verb, tt.attrs.Group, tt.attrs.Resource, tt.attrs.Subresource,
					tt.attrs.Namespace, tt.attrs.Name, sar.Status.Allowed, tt.allowed)
			}
		}
	})
}

// rendered is the chart's default render (plus args) as objects.
func rendered(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out := kubeenv.HelmTemplate(t, "aimesh", chartDir, chartNamespace, args...)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(out), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// readyStatus checks the Ready condition of an aimesh object.
func readyStatus(ctx context.Context, c client.Client, obj client.Object, ns, name string, status metav1.ConditionStatus, reason string) error {
	return condition(ctx, c, obj, ns, name, v1.ConditionReady, status, reason, "")
}

// condition checks one condition of an aimesh object, for its current
// generation, and that its message contains msg.
func condition(ctx context.Context, c client.Client, obj client.Object, ns, name, typ string, status metav1.ConditionStatus, reason, msg string) error {
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		return err
	}
	st := statusOf(obj)
	cond := meta.FindStatusCondition(st.Conditions, typ)
	switch {
	case cond == nil:
		return fmt.Errorf("%s %s: no %s condition yet (status %+v)", kindOf(obj), name, typ, st)
	case cond.ObservedGeneration != obj.GetGeneration():
		return fmt.Errorf("%s %s: %s describes generation %d, the object is at %d", kindOf(obj), name, typ, cond.ObservedGeneration, obj.GetGeneration())
	case cond.Status != status || cond.Reason != reason || !strings.Contains(cond.Message, msg):
		return fmt.Errorf("%s %s: %s=%s reason %s message %q; want %s reason %s with %q", kindOf(obj), name, typ, cond.Status, cond.Reason, cond.Message, status, reason, msg)
	}
	return nil
}

func statusOf(obj client.Object) *v1.Status {
	switch o := obj.(type) {
	case *v1.Mesh:
		return &o.Status
	case *v1.VirtualNode:
		return &o.Status
	case *v1.VirtualService:
		return &o.Status
	case *v1.VirtualRouter:
		return &o.Status
	case *v1.VirtualGateway:
		return &o.Status
	case *v1.GatewayRoute:
		return &o.Status
	}
	panic(fmt.Sprintf("not an aimesh object: %T", obj))
}

func kindOf(obj client.Object) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
}
