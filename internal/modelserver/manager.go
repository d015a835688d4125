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
		w.mu.Lock()
		n += len(w.cols)
		w.mu.Unlock()
	}
	return n
}

// watcher keeps one collector per endpoint of a Set.
type watcher struct {
	set    *discovery.Set
	cfg    scrapeConfig
	m      *Manager
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	cols map[*discovery.Endpoint]*collector
}

func (m *Manager) start(set *discovery.Set, cfg scrapeConfig) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{set: set, cfg: cfg, m: m, cancel: cancel, done: make(chan struct{}), cols: map[*discovery.Endpoint]*collector{}}
	w.reconcile(ctx)
	go w.run(ctx)
	return w
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(min(w.cfg.interval, time.Second))
	defer t.Stop()
	seen := w.set.Version()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if v := w.set.Version(); v != seen {
				seen = v
				w.reconcile(ctx)
			}
		}
	}
}

// reconcile starts collectors for new endpoints and stops those of
// departed ones.
func (w *watcher) reconcile(ctx context.Context) {
	eps := w.set.Endpoints()
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := make(map[*discovery.Endpoint]bool, len(eps))
	for _, ep := range eps {
		cur[ep] = true
		if _, ok := w.cols[ep]; ok {
			continue
		}
		c := newCollector(ep, w.cfg, w.m.hc, w.m.log)
		cctx, cancel := context.WithCancel(ctx)
		c.stop = cancel
		w.cols[ep] = c
		go c.run(cctx)
	}
	for ep, c := range w.cols {
		if !cur[ep] {
			c.stop()
			<-c.done
			ep.State.SetServerStats(nil)
			delete(w.cols, ep)
		}
	}
}

// close stops the watcher and its collectors and clears their metrics.
func (w *watcher) close() {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for ep, c := range w.cols {
		c.stop()
		<-c.done
		ep.State.SetServerStats(nil)
		delete(w.cols, ep)
	}
}
