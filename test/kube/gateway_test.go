package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/kube"
	"github.com/aimesh/aimesh/test/kubeenv"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replica is one gateway with its control plane, as one pod runs them.
type replica struct {
	name string
	g    *gateway.Gateway
	base string // the VirtualGateway listener, http://IP:PORT
	mesh string // the mesh listener
}

// startReplica runs a gateway bound to ip and kube.Run against env, as
// `aimesh run --kubernetes` does in a pod.
func startReplica(t *testing.T, env *kubeenv.Env, name, ip string, gatewayPort int) *replica {
	t.Helper()
	log := slog.New(slog.NewTextHandler(newLogWriter(t, name), &slog.HandlerOptions{Level: slog.LevelInfo}))
	g := gateway.New(gateway.Options{ListenAddress: ip, MeshAddress: net.JoinHostPort(ip, "0"), Kubernetes: true,
		DrainTimeout: 5 * time.Second, Log: log})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := kube.Run(ctx, g, kube.Options{
			Config: env.Config(), Namespace: "default", LeaderElect: true, Identity: name,
			// Short leases, so that the API server outage below outlasts
			// one and the leader's manager restarts.
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond,
			RestartBackoff: 200 * time.Millisecond, Log: log,
		})
		if err != nil {
			t.Errorf("%s: kube.Run: %v", name, err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
		_ = g.Shutdown(context.Background())
	})
	r := &replica{name: name, g: g, base: "http://" + net.JoinHostPort(ip, strconv.Itoa(gatewayPort))}
	eventually(t, 60*time.Second, name+" serves the mesh listener", func() error {
		if a := g.ListenerAddr("mesh"); a != nil {
			r.mesh = "http://" + a.String()
			return nil
		}
		return fmt.Errorf("no config applied yet")
	})
	return r
}

// TestGatewayServesClusterMesh runs two gateway replicas against a real API
// server with the seed mesh applied by kubectl and model servers in test
// hosts behind Services and EndpointSlices, and checks that: both replicas
// route to the EndpointSlice addresses; a VirtualRouter weight change
// shifts traffic; an endpoint removed from its slice gets no more
// requests; one replica holds the Lease and status conditions appear with
// the right reasons; an invalid router is dropped with its dependents
// while the rest keeps serving; a VirtualService whose name another
// namespace of the mesh already serves is refused while the older one keeps
// the hostname; and traffic flows while the API server is down, and
// follows changes once it is back.
func TestGatewayServesClusterMesh(t *testing.T) {
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := testContext(t, 5*time.Minute)
	c := newClient(t, env)

	v1a, v1aPort := modelServer(t, "llm-v1-a")
	v1b, v1bPort := modelServer(t, "llm-v1-b")
	v2, v2Port := modelServer(t, "llm-v2")

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai", Labels: map[string]string{"aimesh.io/mesh": "ai-mesh"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// Service ports are the VirtualNode listener ports; the slices carry
	// the model servers' real ports (the targetPort).
	createService(t, ctx, c, "ai", "llm-v1", 9001, []backend{{v1a.Addr.String(), v1aPort}, {v1b.Addr.String(), v1bPort}})
	createService(t, ctx, c, "ai", "llm-v2", 9002, []backend{{v2.Addr.String(), v2Port}})
	createService(t, ctx, c, "ai", "ai-app", 8080, nil)
	if v1aPort != v1bPort {
		// One slice carries one port per name: give llm-v1-b its own slice.
		if err := c.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "llm-v1-1"}}); err != nil {
			t.Fatal(err)
		}
		a := endpointSlice("ai", "llm-v1", []backend{{v1a.Addr.String(), v1aPort}})
		b := endpointSlice("ai", "llm-v1", []backend{{v1b.Addr.String(), v1bPort}})
		b.Name = "llm-v1-2"
		for _, s := range []*discoveryv1.EndpointSlice{a, b} {
			if err := c.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}

	port := freePort(t)
	seed := seedMesh(t, port)
	out := mustKubectl(t, ctx, env, seed, "apply", "-f", "-")
	t.Logf("kubectl apply -f seed-mesh.yaml:\n%s", out)

	a := startReplica(t, env, "replica-a", "127.0.0.1", port)
	b := startReplica(t, env, "replica-b", "127.0.0.2", port)

	chatA := func() (int, string, error) { return chat(ctx, a.base) }
	modelsA := func() (int, string, error) { return get(ctx, a.base, "/v1/models", "") }

	t.Run("routes to EndpointSlice addresses on every replica", func(t *testing.T) {
		eventually(t, 30*time.Second, "replica-a routes", func() error { _, _, err := chatA(); return err })
		got, err := servers(100, chatA)
		if err != nil {
			t.Fatal(err)
		}
		v1n := got["llm-v1-a"] + got["llm-v1-b"]
		if got["llm-v2"] == 0 || v1n <= got["llm-v2"]*3 || v1n+got["llm-v2"] != 100 {
			t.Errorf("90/10 canary answered by %v", got)
		}
		if got["llm-v1-a"] == 0 || got["llm-v1-b"] == 0 {
			t.Errorf("llm-v1's two endpoints did not both serve: %v", got)
		}
		eventually(t, 30*time.Second, "replica-b routes", func() error { _, _, err := chat(ctx, b.base); return err })
	})

	t.Run("status conditions and one leader", func(t *testing.T) {
		for _, o := range []struct {
			obj      client.Object
			ns, name string
		}{
			{&v1.Mesh{}, "", "ai-mesh"}, {&v1.VirtualNode{}, "ai", "llm-v1"}, {&v1.VirtualNode{}, "ai", "ai-virtual-node"},
			{&v1.VirtualService{}, "ai", "ai-api-service.local"}, {&v1.VirtualRouter{}, "ai", "ai-virtual-router"},
			{&v1.VirtualGateway{}, "ai", "ai-gateway"}, {&v1.GatewayRoute{}, "ai", "ai-api-route"},
		} {
			eventually(t, 30*time.Second, kindOf(o.obj)+" "+o.name+" Ready", func() error {
				return readyStatus(ctx, c, o.obj, o.ns, o.name, metav1.ConditionTrue, kube.ReasonServed)
			})
		}
		var lease coordinationv1.Lease
		if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "aimesh-status"}, &lease); err != nil {
			t.Fatal(err)
		}
		if h := lease.Spec.HolderIdentity; h == nil || (*h != a.name && *h != b.name) {
			t.Errorf("Lease holder %v, want one of the replicas", h)
		}
		out := mustKubectl(t, ctx, env, "", "get", "virtualrouters", "-n", "ai")
		if !regexp.MustCompile(`ai-virtual-router\s+8080\s+True\s+Served`).MatchString(out) {
			t.Errorf("kubectl get virtualrouters:\n%s", out)
		}
	})

	t.Run("a weight change shifts traffic", func(t *testing.T) {
		applyWeights(t, ctx, env, seed, 0, 100)
		eventually(t, 30*time.Second, "all chat traffic on llm-v2", func() error { return onlyFrom(20, "llm-v2", chatA) })
		eventually(t, 30*time.Second, "replica-b follows", func() error {
			return onlyFrom(20, "llm-v2", func() (int, string, error) { return chat(ctx, b.base) })
		})
	})

	t.Run("an endpoint removed from its slice gets no traffic", func(t *testing.T) {
		if v1aPort == v1bPort {
			s := endpointSlice("ai", "llm-v1", []backend{{v1a.Addr.String(), v1aPort}})
			var cur discoveryv1.EndpointSlice
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), &cur); err != nil {
				t.Fatal(err)
			}
			cur.Endpoints = s.Endpoints
			if err := c.Update(ctx, &cur); err != nil {
				t.Fatal(err)
			}
		} else if err := c.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "llm-v1-2"}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "llm-v1 traffic only on llm-v1-a", func() error { return onlyFrom(20, "llm-v1-a", modelsA) })
	})

	t.Run("an invalid router is dropped with its dependents, the rest serves", func(t *testing.T) {
		direct := `apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local, namespace: ai}
spec: {provider: {virtualNode: {virtualNodeName: llm-v2}}}`
		mustKubectl(t, ctx, env, direct, "apply", "-f", "-")
		directA := func() (int, string, error) { return get(ctx, a.mesh, "/v1/models", "direct.local") }
		eventually(t, 30*time.Second, "direct.local served", func() error { return onlyFrom(5, "llm-v2", directA) })

		broken := strings.Replace(seed, "            - virtualNode: llm-v2\n              weight: 10", "            - virtualNode: x\n              weight: 10", 1)
		mustKubectl(t, ctx, env, broken, "apply", "-f", "-")
		eventually(t, 30*time.Second, "router status", func() error {
			return condition(ctx, c, &v1.VirtualRouter{}, "ai", "ai-virtual-router", v1.ConditionResolvedRefs,
				metav1.ConditionFalse, "VirtualNodeNotFound", `route llama-canary: VirtualNode "x" not found`)
		})
		if err := condition(ctx, c, &v1.VirtualRouter{}, "ai", "ai-virtual-router", v1.ConditionReady,
			metav1.ConditionFalse, "VirtualNodeNotFound", "not served"); err != nil {
			t.Error(err)
		}
		if err := condition(ctx, c, &v1.VirtualRouter{}, "ai", "ai-virtual-router", v1.ConditionAccepted,
			metav1.ConditionTrue, kube.ReasonAccepted, ""); err != nil {
			t.Error(err)
		}
		eventually(t, 30*time.Second, "dependents' status", func() error {
			if err := condition(ctx, c, &v1.VirtualService{}, "ai", "ai-api-service.local", v1.ConditionResolvedRefs,
				metav1.ConditionFalse, "VirtualRouterNotReady", `VirtualRouter "ai-virtual-router" is not served`); err != nil {
				return err
			}
			return condition(ctx, c, &v1.GatewayRoute{}, "ai", "ai-api-route", v1.ConditionReady,
				metav1.ConditionFalse, "VirtualServiceNotReady", "")
		})
		if err := onlyFrom(5, "llm-v2", directA); err != nil {
			t.Errorf("the valid rest stopped serving: %v", err)
		}
		if code, _, _ := chatA(); code != 404 {
			t.Errorf("chat through the dropped route: status %d, want 404", code)
		}

		// A regex RE2 refuses passes the CRD schema; the gateway reports it.
		badRegex := `apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: bad-regex, namespace: ai}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
    - name: r
      httpRoute: {match: {path: {regex: "(unclosed"}}, action: {weightedTargets: [{virtualNode: llm-v1, weight: 1}]}}`
		mustKubectl(t, ctx, env, badRegex, "apply", "-f", "-")
		eventually(t, 30*time.Second, "invalid regex reported", func() error {
			return condition(ctx, c, &v1.VirtualRouter{}, "ai", "bad-regex", v1.ConditionAccepted,
				metav1.ConditionFalse, kube.ReasonInvalid, "spec.routes[0].httpRoute.match.path.regex (route r): invalid regular expression")
		})

		applyWeights(t, ctx, env, seed, 100, 0)
		eventually(t, 30*time.Second, "the fixed router serves again", func() error { return onlyFrom(10, "llm-v1-a", chatA) })
		eventually(t, 30*time.Second, "GatewayRoute Ready again", func() error {
			return readyStatus(ctx, c, &v1.GatewayRoute{}, "ai", "ai-api-route", metav1.ConditionTrue, kube.ReasonServed)
		})
	})

	t.Run("a VirtualService name taken in another namespace is refused, the older one keeps it", func(t *testing.T) {
		// direct.local in ai, served by llm-v2 (applied again, so that this
		// case stands alone).
		direct := `apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local, namespace: ai}
spec: {provider: {virtualNode: {virtualNodeName: llm-v2}}}`
		mustKubectl(t, ctx, env, direct, "apply", "-f", "-")
		eventually(t, 30*time.Second, "ai/direct.local served", func() error {
			return onlyFrom(5, "llm-v2", func() (int, string, error) { return get(ctx, a.mesh, "/v1/models", "direct.local") })
		})

		// A second namespace of the mesh whose node reaches llm-v1-a, with a
		// VirtualService of the same name and then one of its own,
		// b-only.local: a replica serving b-only.local has seen the newer
		// direct.local too (kubectl creates them in this order).
		nsB := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai-b", Labels: map[string]string{"aimesh.io/mesh": "ai-mesh"}}}
		if err := c.Create(ctx, nsB); err != nil {
			t.Fatal(err)
		}
		createService(t, ctx, c, "ai-b", "llm-b", 9003, []backend{{v1a.Addr.String(), v1aPort}})
		teamB := `apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm-b, namespace: ai-b}
spec:
  listeners: [{portMapping: {port: 9003, protocol: http}}]
  serviceDiscovery: {kubernetes: {serviceName: llm-b}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local, namespace: ai-b}
spec: {provider: {virtualNode: {virtualNodeName: llm-b}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: b-only.local, namespace: ai-b}
spec: {provider: {virtualNode: {virtualNodeName: llm-b}}}`
		mustKubectl(t, ctx, env, teamB, "apply", "-f", "-")
		for _, r := range []*replica{a, b} {
			eventually(t, 30*time.Second, r.name+" serves b-only.local", func() error {
				return onlyFrom(5, "llm-v1-a", func() (int, string, error) { return get(ctx, r.mesh, "/v1/models", "b-only.local") })
			})
			if err := onlyFrom(10, "llm-v2", func() (int, string, error) { return get(ctx, r.mesh, "/v1/models", "direct.local") }); err != nil {
				t.Errorf("%s: direct.local no longer goes to ai's provider: %v", r.name, err)
			}
		}
		eventually(t, 30*time.Second, "ai-b/direct.local refused", func() error {
			return condition(ctx, c, &v1.VirtualService{}, "ai-b", "direct.local", v1.ConditionAccepted, metav1.ConditionFalse, kube.ReasonInvalid,
				`metadata.name: duplicate hostname: VirtualService "direct.local" in namespace "ai" has the same name`)
		})
		if err := condition(ctx, c, &v1.VirtualService{}, "ai-b", "direct.local", v1.ConditionReady, metav1.ConditionFalse, kube.ReasonInvalid,
			"unique within a mesh"); err != nil {
			t.Error(err)
		}
		for _, vs := range []struct{ ns, name string }{{"ai", "direct.local"}, {"ai-b", "b-only.local"}} {
			eventually(t, 30*time.Second, vs.ns+"/"+vs.name+" Ready", func() error {
				return readyStatus(ctx, c, &v1.VirtualService{}, vs.ns, vs.name, metav1.ConditionTrue, kube.ReasonServed)
			})
		}
	})

	t.Run("traffic flows while the API server is down", func(t *testing.T) {
		var sent, failed atomic.Int64
		var firstErr sync.Once
		var errMsg atomic.Value
		stopLoad := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range []*replica{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stopLoad:
						return
					default:
					}
					sent.Add(1)
					if _, _, err := chat(ctx, r.base); err != nil {
						failed.Add(1)
						firstErr.Do(func() { errMsg.Store(r.name + ": " + err.Error()) })
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		if err := env.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		// Longer than the Lease: the leader's manager stops and restarts.
		time.Sleep(6 * time.Second)
		if err := env.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		close(stopLoad)
		wg.Wait()
		if failed.Load() > 0 || sent.Load() < 50 {
			t.Errorf("while the API server was down: %d of %d requests failed (first: %v)", failed.Load(), sent.Load(), errMsg.Load())
		}
		t.Logf("%d requests served while the API server was stopped and restarted", sent.Load())

		// Back: changes flow again, and status is written for them.
		applyWeights(t, ctx, env, seed, 0, 100)
		eventually(t, 60*time.Second, "weight change after the outage", func() error { return onlyFrom(20, "llm-v2", chatA) })
		eventually(t, 60*time.Second, "status after the outage", func() error {
			return readyStatus(ctx, c, &v1.VirtualRouter{}, "ai", "ai-virtual-router", metav1.ConditionTrue, kube.ReasonServed)
		})
	})
}

// applyWeights applies the seed's router with the canary route's weights.
func applyWeights(t *testing.T, ctx context.Context, env *kubeenv.Env, seed string, w1, w2 int) {
	t.Helper()
	doc := strings.Replace(seed, "              weight: 90\n", "              weight: "+strconv.Itoa(w1)+"\n", 1)
	doc = strings.Replace(doc, "              weight: 10\n", "              weight: "+strconv.Itoa(w2)+"\n", 1)
	mustKubectl(t, ctx, env, doc, "apply", "-f", "-")
}
