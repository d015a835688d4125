package picker

import (
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
)

// Metrics says what is known of an endpoint's engine.
type Metrics uint8

const (
	// MetricsNone: the engine is not scraped or was never scraped yet;
	// the load view is aimesh's own counters.
	MetricsNone Metrics = iota
	// MetricsFresh: scraped within the staleness bound.
	MetricsFresh
	// MetricsStale: the last scrape is too old; the endpoint counts as
	// saturated.
	MetricsStale
)

// Candidate is one endpoint and its load view at the time of a pick.
type Candidate struct {
	Endpoint *discovery.Endpoint
	// InFlight and Tokens are aimesh's requests and estimated tokens in
	// flight to the endpoint.
	InFlight, Tokens int64
	// Queue is the estimated engine queue: scraped waiting requests plus
	// those aimesh sent since the scrape. Without metrics it is InFlight.
	Queue float64
	// Running is the scraped running requests (0 without metrics).
	Running float64
	// KV is the estimated KV-cache usage in [0,1]: scraped, plus the
	// tokens aimesh sent since over the cache size when known (0 without
	// metrics, 1 when stale).
	KV      float64
	Metrics Metrics
	// Saturated: the estimated queue reached queueDepthThreshold, or the
	// KV cache reached its threshold while the engine has requests
	// waiting, or the metrics are stale.
	Saturated bool
	// KVCapacityTokens is the engine's KV-cache size, 0 when unknown.
	KVCapacityTokens int64
}

// Observe fills c with ep's load view at now.
func Observe(c *Candidate, ep *discovery.Endpoint, now time.Time, cfg *Config) {
	*c = Candidate{Endpoint: ep, InFlight: ep.InFlight.Load(), Tokens: ep.State.InFlightTokens.Load()}
	st := ep.State.ServerStats()
	if st == nil || cfg.StaleAfter <= 0 {
		c.Queue = float64(c.InFlight)
		return
	}
	c.KVCapacityTokens = st.KVCapacityTokens
	c.Running = st.Running
	c.Queue = st.Waiting + float64(max(0, c.InFlight-st.InFlight))
	if now.Sub(st.At) > cfg.StaleAfter {
		c.Metrics = MetricsStale
		c.Saturated = true
		c.Queue = max(c.Queue, cfg.QueueThreshold)
		c.KV = 1
		return
	}
	c.Metrics = MetricsFresh
	if st.KVUsage >= 0 {
		c.KV = st.KVUsage
		if st.KVCapacityTokens > 0 {
			c.KV += float64(c.Tokens-st.InFlightTokens) / float64(st.KVCapacityTokens)
		}
		c.KV = min(max(c.KV, 0), 1)
	}
	// A full KV cache is saturation only while the engine queues: a cache
	// full of shared prefixes still admits the requests that reuse them.
	c.Saturated = c.Queue >= cfg.QueueThreshold || (c.KV >= cfg.KVThreshold && st.Waiting > 0)
}

// Gather appends to dst the candidates among eps: available endpoints not
// in tried, or, when every available endpoint was tried, all available
// ones (a retry may go back to an endpoint rather than fail). It returns
// dst empty when no endpoint is available.
func Gather(dst []Candidate, eps, tried []*discovery.Endpoint, now time.Time, cfg *Config) []Candidate {
	n := now.UnixNano()
	start := len(dst)
	for pass := 0; pass < 2; pass++ {
		for _, ep := range eps {
			if !ep.State.Available(n) || (pass == 0 && contains(tried, ep)) {
				continue
			}
			dst = append(dst, Candidate{})
			Observe(&dst[len(dst)-1], ep, now, cfg)
		}
		if len(dst) > start || len(tried) == 0 {
			break
		}
	}
	return dst
}

// Admit decides whether a request may go to one of cands. Only sheddable
// requests are refused, and only when every candidate is saturated and at
// least one was freshly scraped: without fresh metrics anywhere aimesh
// cannot tell saturation from a broken scrape and fails open.
func Admit(req *Request, cands []Candidate) bool {
	if req.Criticality != Sheddable {
		return true
	}
	fresh := false
	for i := range cands {
		if !cands[i].Saturated {
			return true
		}
		fresh = fresh || cands[i].Metrics == MetricsFresh
	}
	return !fresh
}

func contains(s []*discovery.Endpoint, e *discovery.Endpoint) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}
