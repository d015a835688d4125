package health

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

// Target is one endpoint Set and its listener's health settings (either
// may be nil).
type Target struct {
	Set              *discovery.Set
	HealthCheck      *v1.HealthCheckPolicy
	OutlierDetection *v1.OutlierDetection
}

// Manager owns the active checkers (one per endpoint of every Set with a
// healthCheck) and the outlier detectors (one per Set with
// outlierDetection). Both are long-lived: a reload with unchanged settings
// keeps them, verdicts and ejections included.
type Manager struct {
	log     *slog.Logger
	h1, h2c *http.Client

	mu       sync.Mutex
	checks   map[*discovery.Set]*checks
	outliers atomic.Pointer[map[*discovery.Set]*Outlier]
}

type checks struct {
	cfg     CheckConfig
	workers *discovery.Workers
}

// NewManager returns a Manager with its own probe clients.
func NewManager(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		log:    log,
		h1:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}},
		h2c:    h2cClient(),
		checks: map[*discovery.Set]*checks{},
	}
	empty := map[*discovery.Set]*Outlier{}
	m.outliers.Store(&empty)
	return m
}

// Sync makes ts the watched Sets. Changed settings restart a Set's checks
// (verdicts reset to healthy) or replace its detector (ejections lifted);
// removed settings stop them the same way.
func (m *Manager) Sync(ts []Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wantCheck := map[*discovery.Set]CheckConfig{}
	wantOut := map[*discovery.Set]OutlierConfig{}
	for _, t := range ts {
		if t.Set == nil {
			continue
		}
		if t.HealthCheck != nil {
			if _, dup := wantCheck[t.Set]; !dup {
				wantCheck[t.Set] = CheckConfigFrom(t.HealthCheck)
			}
		}
		if t.OutlierDetection != nil {
			if _, dup := wantOut[t.Set]; !dup {
				wantOut[t.Set] = OutlierConfigFrom(t.OutlierDetection)
			}
		}
	}
	for set, c := range m.checks {
		if cfg, ok := wantCheck[set]; !ok || cfg != c.cfg {
			c.workers.Close()
			delete(m.checks, set)
		}
	}
	for set, cfg := range wantCheck {
		if _, ok := m.checks[set]; ok {
			continue
		}
		run := func(ctx context.Context, ep *discovery.Endpoint) {
			newChecker(ep, cfg, m.h1, m.h2c, m.log).run(ctx)
		}
		reset := func(ep *discovery.Endpoint) { ep.State.SetUnhealthy(false) }
		m.checks[set] = &checks{cfg: cfg, workers: discovery.StartWorkers(set, time.Second, run, reset)}
	}
	cur := *m.outliers.Load()
	next := make(map[*discovery.Set]*Outlier, len(wantOut))
	for set, cfg := range wantOut {
		if o := cur[set]; o != nil && o.Config() == cfg {
			next[set] = o
		} else {
			next[set] = NewOutlier(cfg, set)
		}
	}
	for set, o := range cur {
		if next[set] != o {
			o.Lift()
		}
	}
	m.outliers.Store(&next)
}

// Observe records an attempt's outcome on ep of set for outlier detection.
// It is cheap when the Set has none.
func (m *Manager) Observe(set *discovery.Set, ep *discovery.Endpoint, code int, failure string) {
	o := (*m.outliers.Load())[set]
	if o == nil || ep == nil {
		return
	}
	if o.Observe(ep, ServerError(code, failure), time.Now()) {
		m.log.Warn("endpoint ejected by outlier detection", "endpoint", ep.Addr, "until", ep.State.EjectedUntil(),
			"times", o.Ejections(ep))
	}
}

// Outlier returns set's detector, or nil.
func (m *Manager) Outlier(set *discovery.Set) *Outlier { return (*m.outliers.Load())[set] }

// Checkers returns the number of running active checkers.
func (m *Manager) Checkers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.checks {
		n += c.workers.Len()
	}
	return n
}

// Close stops every checker and lifts every ejection.
func (m *Manager) Close() { m.Sync(nil) }
