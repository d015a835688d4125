package inference

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

func newPolicy(t testing.TB) (*Policy, *prefix.Index, picker.Config) {
	t.Helper()
	cfg := picker.ConfigFrom(nil, nil)
	cfg.StaleAfter = time.Second
	idx := prefix.New(cfg.MaxBlocks)
	p, err := New(cfg, &picker.Shared{Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*Policy), idx, cfg
}

func tenantPrompt(tenant int) []byte {
	return []byte(fmt.Sprintf("[{\"role\":\"system\",\"content\":\"tenant %d %s\"},{\"role\":\"user\",\"content\":\"q\"}]",
		tenant, strings.Repeat("context ", 400)))
}

func TestPrefixAffinityKeepsATenantTogether(t *testing.T) {
	p, _, _ := newPolicy(t)
	cs := cands(4)
	first := -1
	for range 20 {
		req := &picker.Request{Prompt: tenantPrompt(1)}
		c := slices.Clone(cs)
		i := p.Pick(req, c)
		addr := c[i].Endpoint.Slot
		if first < 0 {
			first = addr
		}
		if addr != first {
			t.Fatalf("tenant moved from endpoint %d to %d with equal load", first, addr)
		}
	}
}

func TestPrefixAffinityYieldsToLoad(t *testing.T) {
	tests := []struct {
		name string
		load func(c *picker.Candidate) // applied to the endpoint holding the prefix
		move bool
	}{
		{"equal load: stay", func(c *picker.Candidate) {}, false},
		{"slightly busier: stay", func(c *picker.Candidate) { c.Queue = 2; c.KV = 0.3 }, false},
		{"saturated queue: move", func(c *picker.Candidate) { c.Queue = 5; c.Saturated = true }, true},
		{"saturated KV: move", func(c *picker.Candidate) { c.KV = 0.95; c.Saturated = true }, true},
		{"worst on queue and KV: move", func(c *picker.Candidate) { c.Queue = 4; c.KV = 0.85 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, idx, _ := newPolicy(t)
			cs := cands(3)
			for i := range cs {
				cs[i].Metrics = picker.MetricsFresh
			}
			home := cs[0].Endpoint
			prompt := tenantPrompt(7)
			idx.Insert(home, prefix.AppendHashes(nil, prompt, p.blockBytes), 0)
			tt.load(&cs[0])
			req := &picker.Request{Prompt: prompt}
			i := p.Pick(req, cs)
			moved := cs[i].Endpoint != home
			if moved != tt.move {
				t.Fatalf("moved = %v, want %v (picked %s)", moved, tt.move, cs[i].Endpoint.Addr)
			}
		})
	}
}

func TestPickRecordsPromptBoundedByKVCapacity(t *testing.T) {
	p, idx, _ := newPolicy(t)
	cs := cands(1)
	cs[0].KVCapacityTokens = 256 // 1024 bytes: 4 blocks of 256
	req := &picker.Request{Prompt: tenantPrompt(1)}
	p.Pick(req, cs)
	if n := idx.Len(cs[0].Endpoint); n != 4 {
		t.Fatalf("recorded %d blocks, want 4 (the endpoint's KV capacity)", n)
	}
}

func TestNoMetricsFallsBackToOwnCounters(t *testing.T) {
	p, _, cfg := newPolicy(t)
	eps := []*discovery.Endpoint{{Addr: "a", Slot: 0}, {Addr: "b", Slot: 1}}
	eps[0].InFlight.Store(6)
	eps[0].State.InFlightTokens.Store(6000)
	c := picker.Gather(nil, eps, nil, time.Now(), &cfg)
	if i := p.Pick(&picker.Request{}, c); c[i].Endpoint != eps[1] {
		t.Fatalf("picked %s, want the idle endpoint b", c[i].Endpoint.Addr)
	}
}

func TestPickCountsOnlyUncachedTokens(t *testing.T) {
	for _, n := range []int{1, 3} { // one candidate skips scoring
		p, idx, _ := newPolicy(t)
		cs := cands(n)
		prompt := tenantPrompt(3)
		idx.Insert(cs[0].Endpoint, prefix.AppendHashes(nil, prompt, p.blockBytes), 0)
		for i := 1; i < n; i++ {
			cs[i].Saturated = true
		}
		req := &picker.Request{Prompt: prompt, Tokens: picker.EstimateTokens(len(prompt), 10)}
		full := req.Tokens
		if i := p.Pick(req, cs); cs[i].Endpoint != cs[0].Endpoint {
			t.Fatalf("%d candidates: picked %s", n, cs[i].Endpoint.Addr)
		}
		blocks := len(prompt) / p.blockBytes
		if want := full - int64(blocks*p.blockBytes/picker.BytesPerToken); req.Tokens != want {
			t.Fatalf("%d candidates: tokens %d, want %d (the %d cached blocks off %d)", n, req.Tokens, want, blocks, full)
		}
	}
}
