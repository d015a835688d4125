package modelserver

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/sim"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startSims(t *testing.T, n int, legacy bool) *sim.Cluster {
	t.Helper()
	cfgs := make([]sim.Config, n)
	for i := range cfgs {
		cfgs[i] = sim.DefaultConfig()
		cfgs[i].KVBlocks = 1000
		cfgs[i].LegacyMetrics = legacy
	}
	c, err := sim.StartCluster(context.Background(), "127.0.0.1", 0, cfgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrsOf(c *sim.Cluster) []string {
	var out []string
	for _, u := range c.URLs() {
		out = append(out, strings.TrimPrefix(u, "http://"))
	}
	return out
}

func TestManagerScrapesEveryEndpointAndFollowsTheSet(t *testing.T) {
	c := startSims(t, 3, false)
	addrs := addrsOf(c)
	reg := discovery.NewRegistry(nil)
	set := reg.Ensure(discovery.Key{Node: "vn", Port: 1}, discovery.Spec{Static: addrs[:2]})
	m := NewManager(nil)
	defer m.Close()
	ms := &v1.ModelServer{Engine: v1.EngineVLLM, ScrapeInterval: &v1.Duration{Value: 20, Unit: v1.DurationUnitMS}}
	m.Sync([]Target{{Set: set, Spec: ms}})
	if m.Collectors() != 2 {
		t.Fatalf("collectors = %d, want 2", m.Collectors())
	}
	waitFor(t, "metrics on both endpoints", func() bool {
		for _, ep := range set.Endpoints() {
			if st := ep.State.ServerStats(); st == nil || st.KVCapacityTokens != 16000 {
				return false
			}
		}
		return true
	})
	// Metrics keep coming: At advances.
	first := set.Endpoints()[0].State.ServerStats().At
	waitFor(t, "a newer scrape", func() bool { return set.Endpoints()[0].State.ServerStats().At.After(first) })

	// An endpoint joins and one leaves: collectors follow without a Sync.
	var gone *discovery.Endpoint
	for _, ep := range set.Endpoints() {
		if ep.Addr == addrs[0] {
			gone = ep
		}
	}
	set.Update([]string{addrs[1], addrs[2]})
	waitFor(t, "the new endpoint scraped", func() bool {
		for _, ep := range set.Endpoints() {
			if ep.Addr == addrs[2] && ep.State.ServerStats() != nil {
				return true
			}
		}
		return false
	})
	waitFor(t, "the departed endpoint's metrics cleared", func() bool { return gone.State.ServerStats() == nil })
	if m.Collectors() != 2 {
		t.Fatalf("collectors = %d, want 2", m.Collectors())
	}

	// modelServer removed from the node: collectors stop, metrics cleared.
	m.Sync([]Target{{Set: set}})
	if m.Collectors() != 0 {
		t.Fatalf("collectors = %d after removal, want 0", m.Collectors())
	}
	for _, ep := range set.Endpoints() {
		if ep.State.ServerStats() != nil {
			t.Fatal("metrics left on an endpoint that is no longer scraped")
		}
	}
}

func TestManagerKeepsCollectorsAcrossIdenticalSyncs(t *testing.T) {
	c := startSims(t, 1, true)
	reg := discovery.NewRegistry(nil)
	set := reg.Ensure(discovery.Key{Node: "vn", Port: 1}, discovery.Spec{Static: addrsOf(c)})
	m := NewManager(nil)
	defer m.Close()
	m.Sync([]Target{{Set: set, Spec: &v1.ModelServer{Engine: v1.EngineVLLM}}})
	m.mu.Lock()
	w := m.sets[set]
	m.mu.Unlock()
	m.Sync([]Target{{Set: set, Spec: &v1.ModelServer{Engine: v1.EngineVLLM}}})
	m.mu.Lock()
	same := m.sets[set] == w
	m.mu.Unlock()
	if !same {
		t.Fatal("an identical Sync restarted the collectors")
	}
	waitFor(t, "metrics from the legacy name", func() bool {
		st := set.Endpoints()[0].State.ServerStats()
		return st != nil && st.KVUsage == 0
	})
	m.Sync([]Target{{Set: set, Spec: &v1.ModelServer{Engine: v1.EngineOpenAI}}})
	if m.Collectors() != 0 {
		t.Fatal("the openai engine must not be scraped")
	}
}

func TestScrapeFailureLeavesMetricsToGoStale(t *testing.T) {
	c := startSims(t, 1, false)
	reg := discovery.NewRegistry(nil)
	set := reg.Ensure(discovery.Key{Node: "vn", Port: 1}, discovery.Spec{Static: addrsOf(c)})
	m := NewManager(nil)
	defer m.Close()
	m.Sync([]Target{{Set: set, Spec: &v1.ModelServer{Engine: v1.EngineVLLM, ScrapeInterval: &v1.Duration{Value: 20, Unit: v1.DurationUnitMS}}}})
	ep := set.Endpoints()[0]
	waitFor(t, "a scrape", func() bool { return ep.State.ServerStats() != nil })
	c.Close()
	time.Sleep(100 * time.Millisecond)
	last := ep.State.ServerStats().At
	time.Sleep(100 * time.Millisecond)
	if st := ep.State.ServerStats(); st == nil || !st.At.Equal(last) {
		t.Fatal("a failing scrape must keep the last metrics (they go stale) rather than replace or clear them")
	}
}

func TestMetricsPathAndPort(t *testing.T) {
	path, port := "/stats", v1.PortNumber(9100)
	cfg, ok := configOf(&v1.ModelServer{Engine: v1.EngineSGLang, MetricsPath: &path, MetricsPort: &port})
	if !ok {
		t.Fatal("sglang is scraped")
	}
	col := newCollector(&discovery.Endpoint{Addr: "10.1.2.3:8000"}, cfg, nil, nil)
	if col.url != "http://10.1.2.3:9100/stats" {
		t.Fatalf("url = %s", col.url)
	}
	cfg, _ = configOf(&v1.ModelServer{Engine: v1.EngineVLLM})
	if cfg.interval != 100*time.Millisecond || cfg.path != "/metrics" || cfg.timeout != 300*time.Millisecond {
		t.Fatalf("defaults = %+v", cfg)
	}
	col = newCollector(&discovery.Endpoint{Addr: "[::1]:8000"}, cfg, nil, nil)
	if col.url != "http://[::1]:8000/metrics" {
		t.Fatalf("url = %s", col.url)
	}
}
