package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/test/kubeenv"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// attachMesh has two gateways that select app namespaces by label
// (ingress/public: gateway=public; edge/edge: edge=yes), one whose
// selector does not parse, and in each of team-a, team-b and team-c a
// GatewayRoute without virtualGatewayRef (route-a, route-b, route-c);
// team-a also has pinned-a (pinnedRoute), which names edge/edge.
const attachMesh = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: ai-mesh}
spec: {namespaceSelector: {}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: public, namespace: ingress}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  namespaceSelector: {matchLabels: {gateway: public}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: edge, namespace: edge}
spec:
  listeners: [{portMapping: {port: 8081, protocol: http}}]
  namespaceSelector: {matchLabels: {edge: "yes"}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: bad, namespace: edge}
spec:
  listeners: [{portMapping: {port: 8082, protocol: http}}]
  namespaceSelector: {matchExpressions: [{key: gateway, operator: Bogus}]}
`

// pinnedRoute is a GatewayRoute of team-a that names edge/edge.
func pinnedRoute(name string) string {
	return strings.ReplaceAll(`
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: NAME, namespace: team-a}
spec:
  virtualGatewayRef: {name: edge, namespace: edge}
  httpRoute:
    match: {prefix: /NAME}
    action: {target: {virtualService: {virtualServiceName: team-a.local}}}
`, "NAME", name)
}

// attachApp is a node, its VirtualService ns.local and route-X to it in
// namespace ns (team-X), without virtualGatewayRef.
func attachApp(ns string) string {
	return strings.NewReplacer("NS", ns, "ROUTE", "route-"+strings.TrimPrefix(ns, "team-")).Replace(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm, namespace: NS}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {kubernetes: {serviceName: llm}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: NS.local, namespace: NS}
spec: {provider: {virtualNode: {virtualNodeName: llm}}}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: ROUTE, namespace: NS}
spec:
  httpRoute:
    match: {prefix: /NS}
    action: {target: {virtualService: {virtualServiceName: NS.local}}}
`)
}

// TestGatewayRoutesAttachByNamespaceSelector runs the syncer on a real API
// server: GatewayRoutes without virtualGatewayRef attach to the one
// VirtualGateway whose namespaceSelector selects their namespace, several
// such gateways leave the route unserved with a condition naming them, an
// explicit ref wins, a bad selector is reported on its gateway, and
// relabelling a namespace moves the attachment on the next sync.
func TestGatewayRoutesAttachByNamespaceSelector(t *testing.T) {
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := t.Context()
	s, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config(), client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	for ns, l := range map[string]map[string]string{
		"ingress": nil, "edge": nil,
		"team-a": {"gateway": "public"},
		"team-b": nil,
		"team-c": {"gateway": "public", "edge": "yes"},
	} {
		if err := c.Create(ctx, namespace(ns, l)); err != nil {
			t.Fatal(err)
		}
	}
	createAll(t, ctx, c, attachMesh+pinnedRoute("pinned-a")+attachApp("team-a")+attachApp("team-b")+attachApp("team-c"))

	dp := &fakeDataplane{reg: discovery.NewRegistry(slog.New(slog.DiscardHandler))}
	syn := syncerOn(dp, c)
	syn.sync(ctx)
	if len(dp.applied) != 1 {
		t.Fatalf("applied %d times, want 1", len(dp.applied))
	}
	want := map[string][]string{"public:8080": {"route-a"}, "edge:8081": {"pinned-a"}}
	if got := gatewayRoutesServed(t, dp.applied[0]); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("routes by gateway listener %v, want %v", got, want)
	}
	status := syn.board.load()
	condOf := func(kind, ns, name, typ string) metav1.Condition {
		d, ok := status[config.ObjectKey{Kind: kind, Namespace: ns, Name: name}]
		if !ok {
			t.Fatalf("%s %s/%s: no status", kind, ns, name)
		}
		c := meta.FindStatusCondition(d.conds, typ)
		if c == nil {
			t.Fatalf("%s %s/%s: no %s condition in %+v", kind, ns, name, typ, d.conds)
		}
		return *c
	}

	t.Run("an unselected namespace does not attach", func(t *testing.T) {
		r := condOf(v1.KindGatewayRoute, "team-b", "route-b", v1.ConditionResolvedRefs)
		if r.Status != metav1.ConditionFalse || r.Reason != "VirtualGatewayNotFound" {
			t.Errorf("route-b ResolvedRefs %+v, want False/VirtualGatewayNotFound", r)
		}
	})

	t.Run("two selecting gateways: not served, both named", func(t *testing.T) {
		a := condOf(v1.KindGatewayRoute, "team-c", "route-c", v1.ConditionAccepted)
		if a.Status != metav1.ConditionFalse || a.Reason != ReasonInvalid ||
			!strings.HasPrefix(a.Message, "spec.virtualGatewayRef: 2 VirtualGateways select namespace \"team-c\"") ||
			!strings.Contains(a.Message, "(edge/edge, ingress/public)") || !strings.Contains(a.Message, "set spec.virtualGatewayRef") {
			t.Errorf("route-c Accepted %+v, want False/Invalid naming edge/edge and ingress/public", a)
		}
		if r := condOf(v1.KindGatewayRoute, "team-c", "route-c", v1.ConditionReady); r.Status != metav1.ConditionFalse ||
			!strings.Contains(r.Message, "edge/edge, ingress/public") {
			t.Errorf("route-c Ready %+v, want False naming both gateways", r)
		}
	})

	t.Run("an explicit ref wins over a selector", func(t *testing.T) {
		if r := condOf(v1.KindGatewayRoute, "team-a", "pinned-a", v1.ConditionReady); r.Status != metav1.ConditionTrue {
			t.Errorf("pinned-a Ready %+v, want True", r)
		}
	})

	t.Run("a bad selector is reported on its gateway", func(t *testing.T) {
		a := condOf(v1.KindVirtualGateway, "edge", "bad", v1.ConditionAccepted)
		if a.Status != metav1.ConditionFalse || a.Reason != ReasonInvalid ||
			!strings.HasPrefix(a.Message, "spec.namespaceSelector: invalid label selector") {
			t.Errorf("bad Accepted %+v, want False/Invalid at spec.namespaceSelector", a)
		}
	})

	t.Run("relabelling a namespace moves the attachment", func(t *testing.T) {
		relabel(t, ctx, c, "team-a", map[string]string{"edge": "yes"})
		relabel(t, ctx, c, "team-b", map[string]string{"gateway": "public"})
		syn.sync(ctx)
		if len(dp.applied) != 2 {
			t.Fatalf("applied %d times after relabelling, want 2", len(dp.applied))
		}
		want := map[string][]string{"public:8080": {"route-b"}, "edge:8081": {"pinned-a", "route-a"}}
		if got := gatewayRoutesServed(t, dp.applied[1]); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("routes by gateway listener %v, want %v", got, want)
		}
		syn.sync(ctx)
		if len(dp.applied) != 2 {
			t.Errorf("an unchanged attachment was applied again (%d applies)", len(dp.applied))
		}
	})

	t.Run("a Namespace label event alone triggers the sync", func(t *testing.T) {
		ldp := &lockedDataplane{fakeDataplane: fakeDataplane{reg: discovery.NewRegistry(slog.New(slog.DiscardHandler))}}
		runSyncer(t, env, s, ldp)
		onEdge := func(route string) func() error {
			return func() error {
				res := ldp.last()
				if res == nil {
					return errors.New("nothing applied yet")
				}
				if got := gatewayRoutesServed(t, res)["edge:8081"]; !slices.Contains(got, route) {
					return fmt.Errorf("edge:8081 serves %v, not %s", got, route)
				}
				return nil
			}
		}
		poll(t, "route-a on edge:8081 through the cache", onEdge("route-a"))
		// A route created now is served by a sync that comes after the
		// cache's start-up events, so that only the Namespace event below
		// can cause the next one.
		createAll(t, ctx, c, pinnedRoute("later-a"))
		poll(t, "later-a on edge:8081", onEdge("later-a"))
		relabel(t, ctx, c, "team-b", map[string]string{"edge": "yes"})
		poll(t, "route-b on edge:8081 after the Namespace event", onEdge("route-b"))
	})
}

// lockedDataplane is a fakeDataplane a running syncer applies to while the
// test reads it.
type lockedDataplane struct {
	mu sync.Mutex
	fakeDataplane
}

func (l *lockedDataplane) Apply(res *config.Resources) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeDataplane.Apply(res)
}

// last is the configuration applied last, or nil.
func (l *lockedDataplane) last() *config.Resources {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.applied) == 0 {
		return nil
	}
	return l.applied[len(l.applied)-1]
}

// runSyncer runs a syncer on an informer cache of env, as a replica does,
// until the test ends.
func runSyncer(t *testing.T, env *kubeenv.Env, s *runtime.Scheme, dp Dataplane) {
	t.Helper()
	ca, err := cache.New(env.Config(), cache.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	syn := syncerOn(dp, ca)
	ctx, cancel := context.WithCancel(context.Background())
	if err := syn.watch(ctx, ca); err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ca.Start(ctx); err != nil {
			t.Errorf("cache: %v", err)
		}
	})
	wg.Go(func() { _ = syn.Start(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// poll retries fn every 50ms until it succeeds, for at most 30s.
func poll(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createAll creates the resources of YAML documents (decode's defaults).
func createAll(t *testing.T, ctx context.Context, c client.Client, docs string) {
	t.Helper()
	forEach(decode(t, docs), func(kind string, o metav1.Object) {
		if err := c.Create(ctx, o.(client.Object)); err != nil {
			t.Fatalf("create %s %s/%s: %v", kind, o.GetNamespace(), o.GetName(), err)
		}
	})
}

// relabel replaces the labels of namespace ns.
func relabel(t *testing.T, ctx context.Context, c client.Client, ns string, labels map[string]string) {
	t.Helper()
	o := namespace(ns, nil)
	if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
		t.Fatal(err)
	}
	o.Labels = labels
	if err := c.Update(ctx, o); err != nil {
		t.Fatal(err)
	}
}

// gatewayRoutesServed compiles res as the gateway would and returns the
// names of the routes of each gateway listener (gateway:port).
func gatewayRoutesServed(t *testing.T, res *config.Resources) map[string][]string {
	t.Helper()
	snap, err := snapshot.Compile(res, snapshot.Options{Endpoints: discovery.NewRegistry(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	out := map[string][]string{}
	for _, gl := range snap.Gateways {
		key := fmt.Sprintf("%s:%d", gl.Gateway, gl.Port)
		for _, e := range gl.Routes.Entries() {
			out[key] = append(out[key], e.Name)
		}
		slices.Sort(out[key])
	}
	return out
}
