package modelserver

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
)

// Target is one endpoint Set and its node's modelServer (nil: not
// scraped).
type Target struct {
	Set  *discovery.Set
	Spec *v1.ModelServer
}

// Manager owns the collectors: one per endpoint of every Set whose node
// has a scraped modelServer. Collectors are keyed by endpoint, so they
// survive config reloads; they start and stop as endpoints join and leave
// their Set (checked every scrape interval, at least once a second).
type Manager struct {
	hc  *http.Client
	log *slog.Logger

	mu   sync.Mutex
	sets map[*discovery.Set]*watcher
}

// NewManager returns a Manager that scrapes with its own pooled client.
func NewManager(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Manager{hc: &http.Client{Transport: tr}, log: log, sets: map[*discovery.Set]*watcher{}}
}

// configOf is a modelServer's scrape configuration; ok is false when it is
// not scraped.
func configOf(ms *v1.ModelServer) (scrapeConfig, bool) {
	if ms == nil || ms.Engine == v1.EngineOpenAI || ms.Engine == "" {
		return scrapeConfig{}, false
	}
	c := scrapeConfig{engine: ms.Engine, path: "/metrics", interval: picker.ScrapeInterval(ms)}
	if ms.MetricsPath != nil && *ms.MetricsPath != "" {
		c.path = *ms.MetricsPath
	}
	if ms.MetricsPort != nil {
		c.port = int(*ms.MetricsPort)
	}
	// A scrape may take until the metrics would go stale.
	c.timeout = max(picker.StaleIntervals*c.interval, 250*time.Millisecond)
	return c, true
}

// Sync makes ts the scraped Sets: new ones start, changed ones restart,
// missing ones stop (and their endpoints' metrics are cleared).
func (m *Manager) Sync(ts []Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[*discovery.Set]scrapeConfig{}
	for _, t := range ts {
		if cfg, ok := configOf(t.Spec); ok && t.Set != nil {
			if _, dup := want[t.Set]; !dup {
				want[t.Set] = cfg
			}
		}
	}
	for set, w := range m.sets {
		if cfg, ok := want[set]; !ok || cfg != w.cfg {
			w.close()
			delete(m.sets, set)
		}
	}
	for set, cfg := range want {
		if _, ok := m.sets[set]; !ok {
			m.sets[set] = m.start(set, cfg)
		}
	}
}

// Close stops every collector.
func (m *Manager) Close() { m.Sync(nil) }

// Collectors returns the number of running collectors.
func (m *Manager) Collectors() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, w := range m.sets {
		n += w.workers.Len()
	}
	return n
}

// watcher keeps one collector per endpoint of a Set.
type watcher struct {
	cfg     scrapeConfig
	workers *discovery.Workers
}

func (m *Manager) start(set *discovery.Set, cfg scrapeConfig) *watcher {
	run := func(ctx context.Context, ep *discovery.Endpoint) {
		newCollector(ep, cfg, m.hc, m.log).run(ctx)
	}
	cleared := func(ep *discovery.Endpoint) { ep.State.SetServerStats(nil) }
	return &watcher{cfg: cfg, workers: discovery.StartWorkers(set, min(cfg.interval, time.Second), run, cleared)}
}

// close stops the watcher's collectors and clears their metrics.
func (w *watcher) close() { w.workers.Close() }
