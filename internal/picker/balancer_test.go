package picker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/policies"
)

func newSet(t *testing.T, n int) *discovery.Set {
	t.Helper()
	r := discovery.NewRegistry(nil)
	var addrs []string
	for i := range n {
		addrs = append(addrs, fmt.Sprintf("10.0.0.%d:8000", i+1))
	}
	return r.Ensure(discovery.Key{Node: "vn", Port: 8000}, discovery.Spec{Static: addrs})
}

func newBalancer(t *testing.T) *picker.Balancer {
	t.Helper()
	b, err := picker.NewBalancer(policies.Registry())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBalancerDefaultsToRoundRobin(t *testing.T) {
	b := newBalancer(t)
	set := newSet(t, 3)
	seen := map[string]int{}
	var req picker.Request
	for range 9 {
		ep, err := b.Pick(set, &req, nil)
		if err != nil || ep == nil {
			t.Fatalf("Pick = %v, %v", ep, err)
		}
		seen[ep.Addr]++
	}
	for addr, n := range seen {
		if n != 3 {
			t.Fatalf("%s picked %d times of 9, want 3 (round robin): %v", addr, n, seen)
		}
	}
}

func TestBalancerSyncKeepsStateAcrossReloads(t *testing.T) {
	b := newBalancer(t)
	set := newSet(t, 2)
	inf := &v1.LoadBalancing{Policy: v1.LoadBalancingInference}
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: inf}}); err != nil {
		t.Fatal(err)
	}
	if !b.NeedsPrompt(set) {
		t.Fatal("inference needs the prompt")
	}
	idx := b.Index(set)
	req := picker.Request{Prompt: []byte(strings.Repeat("p", 1024))}
	ep, _ := b.Pick(set, &req, nil)
	if idx.Len(ep) != 4 {
		t.Fatalf("prefix index holds %d blocks for the chosen endpoint, want 4", idx.Len(ep))
	}
	// Same configuration, new objects (a reload): same index.
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference}}}); err != nil {
		t.Fatal(err)
	}
	if b.Index(set) != idx {
		t.Fatal("a reload with the same configuration replaced the prefix index")
	}
	// Weights change: new policy, same index.
	w := int64(7)
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference,
		Inference: &v1.InferenceLoadBalancing{Weights: &v1.InferenceWeights{Queue: &w}}}}}); err != nil {
		t.Fatal(err)
	}
	if b.Index(set) != idx || b.Config(set).Weights.Queue != 7 {
		t.Fatal("a weight change must keep the prefix index and apply the weight")
	}
	// Block size change: the old hashes mean nothing, new index.
	bb := int64(64)
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference,
		Inference: &v1.InferenceLoadBalancing{Prefix: &v1.PrefixAffinity{BlockBytes: &bb}}}}}); err != nil {
		t.Fatal(err)
	}
	if b.Index(set) == idx {
		t.Fatal("a block size change must start a new index")
	}
}

func TestBalancerSyncRejectsUnknownPolicy(t *testing.T) {
	b := newBalancer(t)
	set := newSet(t, 1)
	err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: "fastest"}}})
	if err == nil || !strings.Contains(err.Error(), `"fastest": unknown`) {
		t.Fatalf("Sync error = %v", err)
	}
	if b.NeedsPrompt(set) || b.Config(set).Policy != v1.LoadBalancingRoundRobin {
		t.Fatal("a failed Sync changed the configuration")
	}
}

func TestBalancerShedsOnlySheddableWhenSaturated(t *testing.T) {
	b := newBalancer(t)
	set := newSet(t, 2)
	ms := &v1.ModelServer{Engine: v1.EngineVLLM}
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference}, ModelServer: ms}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, ep := range set.Endpoints() {
		ep.State.SetServerStats(&discovery.ServerStats{Waiting: 10, KVUsage: 0.5, At: now})
	}
	shed := picker.Request{Criticality: picker.Sheddable}
	if ep, err := b.PickAt(set, &shed, nil, now); !errors.Is(err, picker.ErrShed) || ep != nil {
		t.Fatalf("sheddable on a saturated node: %v, %v; want ErrShed", ep, err)
	}
	std := picker.Request{}
	if ep, err := b.PickAt(set, &std, nil, now); err != nil || ep == nil {
		t.Fatalf("standard on a saturated node: %v, %v; want an endpoint", ep, err)
	}
	set.Endpoints()[1].State.SetServerStats(&discovery.ServerStats{Waiting: 0, At: now})
	ep, err := b.PickAt(set, &shed, nil, now)
	if err != nil || ep != set.Endpoints()[1] {
		t.Fatalf("sheddable with one endpoint free: %v, %v; want the free one", ep, err)
	}
	// Metrics gone stale everywhere: fail open.
	later := now.Add(time.Second)
	if ep, err := b.PickAt(set, &shed, nil, later); err != nil || ep == nil {
		t.Fatalf("sheddable with stale metrics only: %v, %v; want fail open", ep, err)
	}
}

func TestBalancerNoAvailableEndpoint(t *testing.T) {
	b := newBalancer(t)
	set := newSet(t, 2)
	for _, ep := range set.Endpoints() {
		ep.State.Eject(time.Now().Add(time.Hour))
	}
	var req picker.Request
	if ep, err := b.Pick(set, &req, nil); ep != nil || err != nil {
		t.Fatalf("Pick with every endpoint ejected = %v, %v; want nil, nil", ep, err)
	}
}

func TestBalancerForgetsDepartedEndpointsInTheIndex(t *testing.T) {
	b := newBalancer(t)
	r := discovery.NewRegistry(nil)
	key := discovery.Key{Node: "vn", Port: 1}
	set := r.Ensure(key, discovery.Spec{Static: []string{"10.0.0.1:1"}})
	if err := b.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference}}}); err != nil {
		t.Fatal(err)
	}
	req := picker.Request{Prompt: []byte(strings.Repeat("x", 512))}
	old, _ := b.Pick(set, &req, nil)
	set.Update([]string{"10.0.0.2:1"})
	req.Reset()
	req.Prompt = []byte(strings.Repeat("y", 512))
	b.Pick(set, &req, nil)
	if n := b.Index(set).Len(old); n != 0 {
		t.Fatalf("departed endpoint still holds %d blocks", n)
	}
}

func TestSchedulerSkipsFiltersThatLeaveNothing(t *testing.T) {
	eps := []*discovery.Endpoint{{Addr: "a"}, {Addr: "b"}}
	cands := []picker.Candidate{{Endpoint: eps[0], Saturated: true}, {Endpoint: eps[1], Saturated: true}}
	s := picker.Scheduler{Filters: []picker.Filter{dropAll{}}, Picker: picker.MaxScore{}}
	var req picker.Request
	if i := s.Pick(&req, cands); i < 0 || i > 1 {
		t.Fatalf("Pick = %d", i)
	}
}

type dropAll struct{}

func (dropAll) Filter(_ *picker.Request, c []picker.Candidate) []picker.Candidate { return c[:0] }

func TestMaxScore(t *testing.T) {
	tests := []struct {
		totals []float64
		want   []int // acceptable answers
	}{
		{[]float64{0.1, 0.9, 0.5}, []int{1}},
		{[]float64{3}, []int{0}},
		{[]float64{0.5, 0.5, 0.1}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.totals), func(t *testing.T) {
			seen := map[int]bool{}
			for range 200 {
				got := picker.MaxScore{}.Pick(nil, make([]picker.Candidate, len(tt.totals)), tt.totals)
				seen[got] = true
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("picked %v, want each of %v", seen, tt.want)
			}
			for _, w := range tt.want {
				if !seen[w] {
					t.Fatalf("picked %v, want each of %v", seen, tt.want)
				}
			}
		})
	}
}
