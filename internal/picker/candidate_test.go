package picker

import (
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

var t0 = time.Unix(1_700_000_000, 0)

func scraped(cfg Config) Config {
	cfg.StaleAfter = 300 * time.Millisecond
	return cfg
}

func TestObserve(t *testing.T) {
	cfg := scraped(ConfigFrom(nil, nil)) // queue threshold 5, KV 0.9
	tests := []struct {
		name          string
		stats         *discovery.ServerStats
		inFlight, tok int64
		noScrape      bool
		want          Candidate
	}{
		{name: "never scraped: aimesh's counters", inFlight: 3, tok: 900,
			want: Candidate{InFlight: 3, Tokens: 900, Queue: 3}},
		{name: "not scraped by config", noScrape: true, inFlight: 2, stats: &discovery.ServerStats{Waiting: 50, At: t0},
			want: Candidate{InFlight: 2, Queue: 2}},
		{name: "fresh, idle", stats: &discovery.ServerStats{Waiting: 0, Running: 2, KVUsage: 0.25, At: t0.Add(-100 * time.Millisecond)},
			want: Candidate{Queue: 0, Running: 2, KV: 0.25, Metrics: MetricsFresh}},
		{name: "fresh, queue at threshold", stats: &discovery.ServerStats{Waiting: 5, KVUsage: 0.1, At: t0},
			want: Candidate{Queue: 5, KV: 0.1, Metrics: MetricsFresh, Saturated: true}},
		{name: "fresh, KV at threshold, engine not queueing", stats: &discovery.ServerStats{KVUsage: 0.9, At: t0},
			want: Candidate{KV: 0.9, Metrics: MetricsFresh}},
		{name: "fresh, KV at threshold, engine queueing", stats: &discovery.ServerStats{KVUsage: 0.9, Waiting: 1, At: t0},
			want: Candidate{KV: 0.9, Queue: 1, Metrics: MetricsFresh, Saturated: true}},
		{name: "requests sent since the scrape join the queue", inFlight: 7,
			stats: &discovery.ServerStats{Waiting: 1, InFlight: 4, At: t0},
			want:  Candidate{InFlight: 7, Queue: 4, Metrics: MetricsFresh}},
		{name: "requests finished since the scrape do not shorten it", inFlight: 1,
			stats: &discovery.ServerStats{Waiting: 2, InFlight: 4, At: t0},
			want:  Candidate{InFlight: 1, Queue: 2, Metrics: MetricsFresh}},
		{name: "tokens sent since the scrape fill the KV cache", tok: 1500,
			stats: &discovery.ServerStats{KVUsage: 0.5, KVCapacityTokens: 1000, InFlightTokens: 1200, At: t0},
			want:  Candidate{Tokens: 1500, KV: 0.8, KVCapacityTokens: 1000, Metrics: MetricsFresh}},
		{name: "KV estimate is capped at 1", tok: 5000,
			stats: &discovery.ServerStats{KVUsage: 0.5, KVCapacityTokens: 1000, At: t0},
			want:  Candidate{Tokens: 5000, KV: 1, KVCapacityTokens: 1000, Metrics: MetricsFresh}},
		{name: "engine without KV usage", stats: &discovery.ServerStats{KVUsage: -1, Waiting: 1, At: t0},
			want: Candidate{Queue: 1, Metrics: MetricsFresh}},
		{name: "stale counts as saturated", stats: &discovery.ServerStats{Waiting: 0, KVUsage: 0.1, At: t0.Add(-301 * time.Millisecond)},
			want: Candidate{Queue: 5, KV: 1, Metrics: MetricsStale, Saturated: true}},
		{name: "just within the bound is fresh", stats: &discovery.ServerStats{At: t0.Add(-300 * time.Millisecond)},
			want: Candidate{Metrics: MetricsFresh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &discovery.Endpoint{Addr: "a:1"}
			ep.InFlight.Store(tt.inFlight)
			ep.State.InFlightTokens.Store(tt.tok)
			if tt.stats != nil {
				ep.State.SetServerStats(tt.stats)
			}
			c := cfg
			if tt.noScrape {
				c.StaleAfter = 0
			}
			var got Candidate
			Observe(&got, ep, t0, &c)
			tt.want.Endpoint = ep
			if got.KV-tt.want.KV > 1e-9 || tt.want.KV-got.KV > 1e-9 {
				t.Fatalf("KV = %v, want %v", got.KV, tt.want.KV)
			}
			got.KV = tt.want.KV
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGather(t *testing.T) {
	cfg := ConfigFrom(nil, nil)
	mk := func() []*discovery.Endpoint {
		eps := []*discovery.Endpoint{{Addr: "a", Slot: 0}, {Addr: "b", Slot: 1}, {Addr: "c", Slot: 2}}
		return eps
	}
	addrs := func(cs []Candidate) string {
		s := ""
		for _, c := range cs {
			s += c.Endpoint.Addr
		}
		return s
	}
	tests := []struct {
		name    string
		prepare func(eps []*discovery.Endpoint)
		tried   []int
		want    string
	}{
		{"all available", nil, nil, "abc"},
		{"ejected endpoint skipped", func(e []*discovery.Endpoint) { e[1].State.Eject(t0.Add(time.Second)) }, nil, "ac"},
		{"expired ejection is back", func(e []*discovery.Endpoint) { e[1].State.Eject(t0.Add(-time.Second)) }, nil, "abc"},
		{"unhealthy skipped", func(e []*discovery.Endpoint) { e[0].State.SetUnhealthy(true) }, nil, "bc"},
		{"tried skipped", nil, []int{0, 2}, "b"},
		{"all tried: all available again", nil, []int{0, 1, 2}, "abc"},
		{"all tried but one unavailable", func(e []*discovery.Endpoint) { e[2].State.SetUnhealthy(true) }, []int{0, 1}, "ab"},
		{"none available", func(e []*discovery.Endpoint) {
			for _, x := range e {
				x.State.Eject(t0.Add(time.Hour))
			}
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := mk()
			if tt.prepare != nil {
				tt.prepare(eps)
			}
			var tried []*discovery.Endpoint
			for _, i := range tt.tried {
				tried = append(tried, eps[i])
			}
			if got := addrs(Gather(nil, eps, tried, t0, &cfg)); got != tt.want {
				t.Fatalf("Gather = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	sat := Candidate{Saturated: true, Metrics: MetricsFresh}
	stale := Candidate{Saturated: true, Metrics: MetricsStale}
	free := Candidate{Metrics: MetricsFresh}
	unknown := Candidate{Metrics: MetricsNone}
	tests := []struct {
		name  string
		crit  Criticality
		cands []Candidate
		want  bool
	}{
		{"sheddable, room left", Sheddable, []Candidate{sat, free}, true},
		{"sheddable, all saturated", Sheddable, []Candidate{sat, sat}, false},
		{"sheddable, saturated and stale", Sheddable, []Candidate{sat, stale}, false},
		{"sheddable, all stale: fail open", Sheddable, []Candidate{stale, stale}, true},
		{"sheddable, no metrics at all: fail open", Sheddable, []Candidate{unknown, unknown}, true},
		{"sheddable, unknown endpoint is not saturated", Sheddable, []Candidate{sat, unknown}, true},
		{"standard, all saturated", Standard, []Candidate{sat, sat}, true},
		{"critical, all saturated", Critical, []Candidate{sat, sat}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Admit(&Request{Criticality: tt.crit}, tt.cands); got != tt.want {
				t.Fatalf("Admit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigFrom(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	def := ConfigFrom(nil, nil)
	want := Config{Policy: v1.LoadBalancingRoundRobin, Weights: Weights{2, 2, 1, 3}, QueueThreshold: 5, KVThreshold: 0.9,
		BlockBytes: 256, MaxBlocks: 16384}
	if def != want {
		t.Fatalf("defaults = %+v, want %+v", def, want)
	}
	got := ConfigFrom(&v1.LoadBalancing{Policy: v1.LoadBalancingInference, Inference: &v1.InferenceLoadBalancing{
		Weights:             &v1.InferenceWeights{Queue: i64(5), Prefix: i64(0)},
		QueueDepthThreshold: i64(8), KVCacheUsageThresholdPercent: i64(75),
		Prefix: &v1.PrefixAffinity{BlockBytes: i64(64), MaxBlocksPerEndpoint: i64(100)},
	}}, &v1.ModelServer{Engine: v1.EngineVLLM, ScrapeInterval: &v1.Duration{Value: 50, Unit: v1.DurationUnitMS}})
	want = Config{Policy: v1.LoadBalancingInference, Weights: Weights{5, 2, 1, 0}, QueueThreshold: 8, KVThreshold: 0.75,
		BlockBytes: 64, MaxBlocks: 100, StaleAfter: 150 * time.Millisecond}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if c := ConfigFrom(nil, &v1.ModelServer{Engine: v1.EngineVLLM}); c.StaleAfter != 300*time.Millisecond {
		t.Fatalf("default staleness = %v, want 3 × 100ms", c.StaleAfter)
	}
	if c := ConfigFrom(nil, &v1.ModelServer{Engine: v1.EngineOpenAI}); c.StaleAfter != 0 {
		t.Fatalf("openai engine is not scraped, StaleAfter = %v", c.StaleAfter)
	}
}

func TestParseCriticality(t *testing.T) {
	for in, want := range map[string]Criticality{"critical": Critical, "SHEDDABLE": Sheddable, "Standard": Standard} {
		if got, ok := ParseCriticality(in); !ok || got != want {
			t.Errorf("ParseCriticality(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := ParseCriticality("low"); ok {
		t.Error("ParseCriticality(low) accepted")
	}
}

func TestEstimateTokens(t *testing.T) {
	if got := EstimateTokens(4000, 100); got != 1100 {
		t.Errorf("EstimateTokens(4000, 100) = %d", got)
	}
	if got := EstimateTokens(5, 0); got != 2+DefaultOutputTokens {
		t.Errorf("EstimateTokens(5, 0) = %d", got)
	}
}
