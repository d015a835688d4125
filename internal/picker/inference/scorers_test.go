package inference

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

func cands(n int) []picker.Candidate {
	cs := make([]picker.Candidate, n)
	for i := range cs {
		cs[i].Endpoint = &discovery.Endpoint{Addr: fmt.Sprintf("e%d", i), Slot: i}
	}
	return cs
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9 {
			return false
		}
	}
	return true
}

func TestQueueScorer(t *testing.T) {
	tests := []struct {
		name   string
		queues []float64
		want   []float64
	}{
		{"idle", []float64{0, 0}, []float64{1, 1}},
		{"below the threshold: proportional to it", []float64{0, 1, 4}, []float64{1, 0.8, 0.2}},
		{"at the threshold", []float64{5}, []float64{0}},
		{"past it: scaled to the longest queue", []float64{10, 20, 5}, []float64{0.5, 0, 0.75}},
		{"all equal and long", []float64{8, 8}, []float64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := cands(len(tt.queues))
			for i, q := range tt.queues {
				cs[i].Queue = q
			}
			got := make([]float64, len(cs))
			QueueScorer{Threshold: 5}.Score(nil, cs, got)
			if !near(got, tt.want) {
				t.Fatalf("scores %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKVCacheScorer(t *testing.T) {
	tests := []struct {
		name string
		kv   []float64
		want []float64
	}{
		{"empty and full", []float64{0, 1}, []float64{1, 0}},
		{"partial", []float64{0.25, 0.9}, []float64{0.75, 0.1}},
		{"out of range is clamped", []float64{-0.5, 1.5}, []float64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := cands(len(tt.kv))
			for i, kv := range tt.kv {
				cs[i].KV = kv
			}
			got := make([]float64, len(cs))
			KVCacheScorer{}.Score(nil, cs, got)
			if !near(got, tt.want) {
				t.Fatalf("scores %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokenScorer(t *testing.T) {
	tests := []struct {
		name     string
		tokens   []int64
		capacity int64
		want     []float64
	}{
		{"none in flight", []int64{0, 0}, 0, []float64{1, 1}},
		{"no capacity known: scaled to the most", []int64{0, 1000, 4000}, 0, []float64{1, 0.75, 0}},
		{"scaled to the KV cache", []int64{0, 1000, 4000}, 10000, []float64{1, 0.9, 0.6}},
		{"more than the KV cache", []int64{5000, 20000}, 10000, []float64{0.75, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := cands(len(tt.tokens))
			for i, tok := range tt.tokens {
				cs[i].Tokens = tok
				cs[i].KVCapacityTokens = tt.capacity
			}
			got := make([]float64, len(cs))
			TokenScorer{}.Score(nil, cs, got)
			if !near(got, tt.want) {
				t.Fatalf("scores %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrefixScorer(t *testing.T) {
	const bb = 16
	ctx := strings.Repeat("shared context. ", 6) // 96 bytes: 6 blocks
	tests := []struct {
		name   string
		sent   map[int]string // endpoint -> prompt sent there
		prompt string
		want   []float64
	}{
		{"no prompt", map[int]string{0: ctx}, "", []float64{0, 0, 0}},
		{"nothing sent anywhere", nil, ctx + "question", []float64{0, 0, 0}},
		{"full and partial matches", map[int]string{0: ctx, 2: ctx[:48]}, ctx, []float64{1, 0, 0.5}},
		{"longer prompt than sent", map[int]string{1: ctx}, ctx + strings.Repeat("q", 96), []float64{0, 0.5, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := cands(3)
			idx := prefix.New(0)
			for i, p := range tt.sent {
				idx.Insert(cs[i].Endpoint, prefix.AppendHashes(nil, []byte(p), bb), 0)
			}
			req := &picker.Request{Prompt: []byte(tt.prompt)}
			got := []float64{9, 9, 9}
			(&PrefixScorer{Index: idx, BlockBytes: bb}).Score(req, cs, got)
			if !near(got, tt.want) {
				t.Fatalf("scores %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSaturationFilter(t *testing.T) {
	tests := []struct {
		name      string
		saturated []bool
		want      string
	}{
		{"none saturated", []bool{false, false, false}, "e0e1e2"},
		{"some saturated", []bool{true, false, true}, "e1"},
		{"all saturated", []bool{true, true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := cands(len(tt.saturated))
			for i, s := range tt.saturated {
				cs[i].Saturated = s
			}
			out := SaturationFilter{}.Filter(nil, cs)
			got := ""
			for _, c := range out {
				got += c.Endpoint.Addr
			}
			if got != tt.want {
				t.Fatalf("kept %q, want %q", got, tt.want)
			}
		})
	}
}
