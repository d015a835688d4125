package discovery

import (
	"sync/atomic"
	"time"
)

// State is the long-lived load and health picture of one endpoint. The
// forwarder keeps the request counters, model-server collectors
// (internal/modelserver) publish scraped engine metrics, health checks and
// outlier detection (internal/health) publish their verdicts, and pickers
// read all of it lock free on every pick.
type State struct {
	// InFlightTokens is the estimated tokens (prompt plus requested
	// output; the inference policy leaves out the prompt blocks it expects
	// the endpoint to have cached) of the requests aimesh has open to the
	// endpoint.
	InFlightTokens atomic.Int64

	server       atomic.Pointer[ServerStats]
	ejectedUntil atomic.Int64 // unix nanoseconds; 0: not ejected
	unhealthy    atomic.Bool
}

// ServerStats is one scrape of a model server's metrics.
type ServerStats struct {
	// Waiting and Running are the engine's queued and running requests.
	Waiting, Running float64
	// KVUsage is the KV-cache usage in [0,1]; negative when the engine does
	// not report it.
	KVUsage float64
	// KVCapacityTokens is the KV cache size in tokens (blocks × block
	// size); 0 when unknown.
	KVCapacityTokens int64
	// At is when the scrape was taken.
	At time.Time
	// InFlight and InFlightTokens are aimesh's counters for the endpoint
	// at scrape time: pickers add what changed since to the scraped
	// values, so the picture stays current between scrapes.
	InFlight, InFlightTokens int64
}

// SetServerStats publishes a scrape; nil forgets the metrics (the endpoint
// is no longer scraped).
func (s *State) SetServerStats(st *ServerStats) { s.server.Store(st) }

// ServerStats returns the last scrape, or nil when there was none.
func (s *State) ServerStats() *ServerStats { return s.server.Load() }

// Eject keeps the endpoint out of picking until the given time; the zero
// time lifts an ejection.
func (s *State) Eject(until time.Time) {
	if until.IsZero() {
		s.ejectedUntil.Store(0)
		return
	}
	s.ejectedUntil.Store(until.UnixNano())
}

// EjectedUntil returns the end of the current ejection (zero time: none
// was set).
func (s *State) EjectedUntil() time.Time {
	n := s.ejectedUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SetUnhealthy records the verdict of the active health check.
func (s *State) SetUnhealthy(v bool) { s.unhealthy.Store(v) }

// Unhealthy reports whether the active health check failed the endpoint.
func (s *State) Unhealthy() bool { return s.unhealthy.Load() }

// Available reports whether the endpoint may get traffic at now (unix
// nanoseconds): it is not ejected and not failed by a health check.
func (s *State) Available(now int64) bool {
	return !s.unhealthy.Load() && s.ejectedUntil.Load() <= now
}
