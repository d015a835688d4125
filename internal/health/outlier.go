package health

import (
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

// OutlierConfig is a listener's outlierDetection.
type OutlierConfig struct {
	// MaxServerErrors within Interval eject an endpoint.
	MaxServerErrors int
	Interval        time.Duration
	// BaseEjection is multiplied by the times the endpoint was ejected.
	BaseEjection time.Duration
	// MaxEjectionPercent of the Set's endpoints may be ejected at once;
	// at least one always may.
	MaxEjectionPercent int
}

// OutlierConfigFrom converts the API type.
func OutlierConfigFrom(od *v1.OutlierDetection) OutlierConfig {
	return OutlierConfig{
		MaxServerErrors:    int(od.MaxServerErrors),
		Interval:           duration(od.Interval),
		BaseEjection:       duration(od.BaseEjectionDuration),
		MaxEjectionPercent: int(od.MaxEjectionPercent),
	}
}

func duration(d v1.Duration) time.Duration {
	if d.Unit == v1.DurationUnitMS {
		return time.Duration(d.Value) * time.Millisecond
	}
	return time.Duration(d.Value) * time.Second
}

// Outlier is passive outlier detection for one endpoint Set. Server errors
// (5xx answers and connection failures, resets and timeouts) are counted
// per endpoint in fixed windows of Interval starting at the window's first
// error; the MaxServerErrors-th error of a window ejects the endpoint for
// BaseEjection × n, n being how many times it has been ejected, this time
// included. n drops by one for each whole Interval the endpoint spends
// back in service without being ejected again. An ejection that would take
// more than MaxEjectionPercent of the Set's endpoints out (at least one is
// always allowed) does not happen; the errors keep counting.
type Outlier struct {
	cfg OutlierConfig
	set *discovery.Set

	mu      sync.Mutex
	eps     map[*discovery.Endpoint]*outlierState
	version int64
}

type outlierState struct {
	windowStart time.Time
	errors      int
	ejections   int       // the multiplier
	until       time.Time // end of the current or last ejection
	decayFrom   time.Time // when the multiplier last started or decayed
}

// NewOutlier returns a detector for set.
func NewOutlier(cfg OutlierConfig, set *discovery.Set) *Outlier {
	return &Outlier{cfg: cfg, set: set, eps: map[*discovery.Endpoint]*outlierState{}, version: -1}
}

// Config returns the detector's configuration.
func (o *Outlier) Config() OutlierConfig { return o.cfg }

// Observe records one attempt's outcome on ep. It reports whether the
// attempt ejected the endpoint.
func (o *Outlier) Observe(ep *discovery.Endpoint, serverError bool, now time.Time) bool {
	if !serverError {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.prune()
	s := o.eps[ep]
	if s == nil {
		s = &outlierState{}
		o.eps[ep] = s
	}
	s.decay(now, o.cfg.Interval)
	if now.Before(s.until) {
		return false // already ejected: a late answer from before
	}
	if s.errors == 0 || now.Sub(s.windowStart) >= o.cfg.Interval {
		s.windowStart, s.errors = now, 0
	}
	s.errors++
	if s.errors < max(o.cfg.MaxServerErrors, 1) || !o.mayEject(now) {
		return false
	}
	s.ejections++
	s.until = now.Add(time.Duration(s.ejections) * o.cfg.BaseEjection)
	s.decayFrom = s.until
	s.errors = 0
	ep.State.Eject(s.until)
	return true
}

// decay lowers the multiplier by one per whole interval spent in service
// since the last ejection ended (or the last decay).
func (s *outlierState) decay(now time.Time, interval time.Duration) {
	if s.ejections == 0 || interval <= 0 || now.Before(s.decayFrom) {
		return
	}
	k := int(now.Sub(s.decayFrom) / interval)
	if k <= 0 {
		return
	}
	s.ejections = max(0, s.ejections-k)
	s.decayFrom = s.decayFrom.Add(time.Duration(k) * interval)
}

// mayEject reports whether one more endpoint may be ejected at now.
func (o *Outlier) mayEject(now time.Time) bool {
	eps := o.set.Endpoints()
	allowed := max(1, len(eps)*o.cfg.MaxEjectionPercent/100)
	ejected := 0
	for ep, s := range o.eps {
		if now.Before(s.until) && ep.State.EjectedUntil().After(now) {
			ejected++
		}
	}
	return ejected < allowed
}

// prune forgets endpoints that left the Set.
func (o *Outlier) prune() {
	v := o.set.Version()
	if v == o.version {
		return
	}
	o.version = v
	cur := map[*discovery.Endpoint]bool{}
	for _, ep := range o.set.Endpoints() {
		cur[ep] = true
	}
	for ep := range o.eps {
		if !cur[ep] {
			delete(o.eps, ep)
		}
	}
}

// Ejections returns ep's ejection multiplier (for tests and debugging).
func (o *Outlier) Ejections(ep *discovery.Endpoint) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.eps[ep]; s != nil {
		return s.ejections
	}
	return 0
}

// Lift ends every ejection this detector made.
func (o *Outlier) Lift() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ep, s := range o.eps {
		if s.ejections > 0 || !s.until.IsZero() {
			ep.State.Eject(time.Time{})
		}
	}
	o.eps = map[*discovery.Endpoint]*outlierState{}
}

// ServerError classifies an attempt: a 5xx status or an upstream failure
// (connect, reset, timeout) counts; client cancellations and other
// statuses do not.
func ServerError(code int, failure string) bool {
	switch failure {
	case "connect", "reset", "timeout", "idle_timeout", "upstream_error":
		return true
	case "client_gone", "shed", "no_endpoint":
		return false
	}
	return code >= 500 && code <= 599
}
