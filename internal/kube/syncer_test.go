package kube

import (
	"errors"
	"log/slog"
	"slices"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// fakeDataplane records what it is asked to apply.
type fakeDataplane struct {
	reg     *discovery.Registry
	applied []*config.Resources
	err     error
}

func (f *fakeDataplane) Apply(res *config.Resources) error {
	f.applied = append(f.applied, res)
	return f.err
}

func (f *fakeDataplane) Endpoints() *discovery.Registry { return f.reg }

var _ Dataplane = (*fakeDataplane)(nil)

func newTestSyncer(t *testing.T, dp Dataplane, objs ...client.Object) (*syncer, client.Client) {
	t.Helper()
	r := fakeReader(t, objs...)
	return syncerOn(dp, r), r
}

// syncerOn is a syncer that reads r directly, without a cache.
func syncerOn(dp Dataplane, r client.Reader) *syncer {
	o := Options{Log: slog.New(slog.DiscardHandler)}
	o.setDefaults()
	return &syncer{dp: dp, reader: r, opts: o, log: o.Log, state: &syncState{}, board: newBoard(), poke: make(chan struct{}, 1)}
}

func TestSyncAppliesOnSpecChangeOnly(t *testing.T) {
	node := kubeNode("ai", "llm", "llm", "", nil, 8000)
	node.Generation = 1
	vs := &v1.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "llm.local", Generation: 1},
		Spec: v1.VirtualServiceSpec{Provider: &v1.VirtualServiceProvider{VirtualNode: &v1.VirtualNodeServiceProvider{VirtualNodeName: "llm"}}}}
	svc := service("ai", "llm", corev1.ServicePort{Name: "http", Port: 8000})
	eps := slice("ai", "llm-1", "llm", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8000))}}, endpoint("198.18.0.2", ptr(true)))
	dp := &fakeDataplane{reg: discovery.NewRegistry(slog.New(slog.DiscardHandler))}
	s, c := newTestSyncer(t, dp, mesh("ai-mesh", &metav1.LabelSelector{}), node, vs, svc, eps)
	ctx := t.Context()

	s.sync(ctx)
	if len(dp.applied) != 1 {
		t.Fatalf("applied %d times, want 1", len(dp.applied))
	}
	set := dp.reg.Ensure(discovery.Key{Node: "ai/llm", Port: 8000}, discovery.Spec{})
	addrs := func() []string {
		var out []string
		for _, e := range set.Endpoints() {
			out = append(out, e.Addr)
		}
		return out
	}
	if got := addrs(); !slices.Equal(got, []string{"198.18.0.2:8000"}) {
		t.Fatalf("endpoints %v", got)
	}

	// An endpoint change feeds the set without applying.
	eps.Endpoints = append(eps.Endpoints, endpoint("198.18.1.2", nil))
	if err := c.Update(ctx, eps); err != nil {
		t.Fatal(err)
	}
	s.sync(ctx)
	if len(dp.applied) != 1 {
		t.Errorf("an EndpointSlice change applied the config (%d applies)", len(dp.applied))
	}
	if got := addrs(); !slices.Equal(got, []string{"198.18.0.2:8000", "198.18.1.2:8000"}) {
		t.Errorf("endpoints after the slice change %v", got)
	}

	// A spec change (new generation) applies; a failed apply is retried.
	dp.err = errors.New("bind: address in use")
	vs.Generation = 2
	if err := c.Update(ctx, vs); err != nil {
		t.Fatal(err)
	}
	s.sync(ctx)
	st := s.board.load()[config.ObjectKey{Kind: v1.KindVirtualService, Namespace: "ai", Name: "llm.local"}]
	if ready := meta.FindStatusCondition(st.conds, v1.ConditionReady); ready == nil || ready.Reason != ReasonApplyFailed {
		t.Errorf("Ready after a failed apply: %+v", ready)
	}
	dp.err = nil
	s.sync(ctx)
	if len(dp.applied) != 3 {
		t.Errorf("applied %d times, want 3 (change, retry)", len(dp.applied))
	}
	s.sync(ctx)
	if len(dp.applied) != 3 {
		t.Errorf("an unchanged config was applied again (%d applies)", len(dp.applied))
	}
}

func TestStatusWriterPatchesOnlyChanges(t *testing.T) {
	s, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	vs := &v1.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: "ai", Name: "a.local", Generation: 3}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(vs).WithStatusSubresource(vs).Build()
	b := newBoard()
	w := &statusWriter{board: b, client: c, log: slog.New(slog.DiscardHandler)}
	k := config.ObjectKey{Kind: v1.KindVirtualService, Namespace: "ai", Name: "a.local"}
	served := conditions(nil, true, nil, nil)
	b.publish(map[config.ObjectKey]desired{k: {generation: 3, conds: served},
		{Kind: v1.KindVirtualNode, Namespace: "ai", Name: "gone"}: {generation: 1, conds: served}})
	ctx := t.Context()
	if failed := w.writeAll(ctx); failed != 0 {
		t.Fatalf("%d writes failed", failed)
	}
	var got v1.VirtualService
	if err := c.Get(ctx, types.NamespacedName{Namespace: "ai", Name: "a.local"}, &got); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
	if got.Status.ObservedGeneration != 3 || len(got.Status.Conditions) != 3 || ready == nil ||
		ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != 3 || ready.LastTransitionTime.IsZero() {
		t.Fatalf("status %+v", got.Status)
	}
	rv := got.ResourceVersion
	if changed, err := w.write(ctx, k, desired{generation: 3, conds: served}); err != nil || changed {
		t.Errorf("rewriting the same status: changed=%v err=%v", changed, err)
	}
	notReady := conditions([]problem{{ref: true, reason: "VirtualNodeNotFound", message: "x"}}, false, nil, nil)
	if changed, err := w.write(ctx, k, desired{generation: 3, conds: notReady}); err != nil || !changed {
		t.Fatalf("a new outcome: changed=%v err=%v", changed, err)
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "ai", Name: "a.local"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion == rv {
		t.Error("status not patched")
	}
	if r := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionResolvedRefs); r == nil || r.Reason != "VirtualNodeNotFound" {
		t.Errorf("ResolvedRefs %+v", r)
	}
}
