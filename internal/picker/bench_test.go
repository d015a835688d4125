package picker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/policies"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// BenchmarkPick100 is one Balancer pick among 100 endpoints with the
// inference policy and every scorer on: fresh metrics on each endpoint, a
// 12 KiB chat prompt (48 blocks of 256 bytes) whose tenant context 8
// endpoints already hold, hashing the prompt (once per request, as in the
// gateway), gathering candidates, admission, filters, the four scorers,
// the pick and its record in the prefix index. It also reports the 99th
// percentile of single picks (p99-ns).
func BenchmarkPick100(b *testing.B) {
	r := discovery.NewRegistry(nil)
	addrs := make([]string, 100)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.%d.%d:8000", i/250, i%250+1)
	}
	set := r.Ensure(discovery.Key{Node: "vn", Port: 8000}, discovery.Spec{Static: addrs})
	bal, err := picker.NewBalancer(policies.Registry())
	if err != nil {
		b.Fatal(err)
	}
	if err := bal.Sync([]picker.Target{{Set: set, LoadBalancing: &v1.LoadBalancing{Policy: v1.LoadBalancingInference},
		ModelServer: &v1.ModelServer{Engine: v1.EngineVLLM, ScrapeInterval: &v1.Duration{Value: 1, Unit: v1.DurationUnitS}}}}); err != nil {
		b.Fatal(err)
	}
	eps := set.Endpoints()
	now := time.Now()
	for i, ep := range eps {
		ep.InFlight.Store(int64(i % 7))
		ep.State.InFlightTokens.Store(int64(i%7) * 3000)
		ep.State.SetServerStats(&discovery.ServerStats{Waiting: float64(i % 3), Running: 8, KVUsage: 0.3 + float64(i%5)/10,
			KVCapacityTokens: 1 << 20, At: now})
	}
	idx := bal.Index(set)
	prompts := make([][]byte, 16)
	for t := range prompts {
		prompts[t] = []byte(fmt.Sprintf("[{\"role\":\"system\",\"content\":\"tenant %d %s\"},{\"role\":\"user\",\"content\":\"q\"}]",
			t, strings.Repeat("context ", 1530)))
		for k := range 8 {
			idx.Insert(eps[(t*8+k)%100], prefix.AppendHashes(nil, prompts[t], picker.DefaultBlockBytes), 0)
		}
	}
	var req picker.Request
	durs := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		start := time.Now()
		req.Reset()
		req.Prompt = prompts[n%len(prompts)]
		req.Tokens = 3000
		if ep, err := bal.PickAt(set, &req, nil, now); ep == nil || err != nil {
			b.Fatalf("pick: %v, %v", ep, err)
		}
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
		n++
	}
	slices.Sort(durs)
	if len(durs) > 0 {
		b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	}
}
