package telemetry

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteMetrics is the long-lived handle for one (listener, virtual service,
// route, virtual node) combination, obtained from (*Metrics).Route when a
// snapshot is compiled. Its methods are safe for concurrent use and, once a
// status code or error kind has been seen, do not hash label values: the
// children are cached in small lock-free tables.
type RouteMetrics struct {
	requests  *prometheus.CounterVec // curried down to the code label
	upErrors  *prometheus.CounterVec // curried down to the kind label
	duration  prometheus.Observer
	ttfb      prometheus.Observer
	retries   prometheus.Counter
	fallbacks prometheus.Counter

	codes slotCache[int]
	kinds slotCache[string]
}

// Observe records one answered request: its status code, its total duration
// and its time to first response byte (time to first token for streams).
// A ttfb <= 0 means no response byte was sent and is not observed.
func (r *RouteMetrics) Observe(code int, dur, ttfb time.Duration) {
	r.codes.get(code, r.requests, strconv.Itoa).Inc()
	r.duration.Observe(dur.Seconds())
	if ttfb > 0 {
		r.ttfb.Observe(ttfb.Seconds())
	}
}

// Retry counts one retry made for a request on this route and node.
func (r *RouteMetrics) Retry() { r.retries.Inc() }

// Fallback counts one request sent to this node as the route's fallback.
func (r *RouteMetrics) Fallback() { r.fallbacks.Inc() }

// UpstreamError counts one failed attempt against this handle's virtual node
// in aimesh_upstream_errors_total{virtual_node, kind}; see the
// UpstreamErr* constants for kinds.
func (r *RouteMetrics) UpstreamError(kind string) {
	r.kinds.get(kind, r.upErrors, identity).Inc()
}

func identity(s string) string { return s }

// cacheSlots bounds how many distinct codes (or error kinds) one handle
// caches; a route rarely sees more than a handful. Values past that still
// count, through the slower label lookup.
const cacheSlots = 16

type slot[K comparable] struct {
	key K
	c   prometheus.Counter
}

// slotCache maps a few keys to counter children. Readers scan an array of
// atomic pointers filled in order; writers append under mu.
type slotCache[K comparable] struct {
	slots [cacheSlots]atomic.Pointer[slot[K]]
	mu    sync.Mutex
	n     int // filled slots, guarded by mu
}

// get returns the child of vec (curried down to one label) for key; label
// turns key into the label value. Both are plain functions or pointers so
// the fast path does not allocate.
func (s *slotCache[K]) get(key K, vec *prometheus.CounterVec, label func(K) string) prometheus.Counter {
	for i := range s.slots {
		p := s.slots[i].Load()
		if p == nil {
			break
		}
		if p.key == key {
			return p.c
		}
	}
	return s.add(key, vec, label)
}

func (s *slotCache[K]) add(key K, vec *prometheus.CounterVec, label func(K) string) prometheus.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < s.n; i++ {
		if p := s.slots[i].Load(); p.key == key {
			return p.c
		}
	}
	c := vec.WithLabelValues(label(key))
	if s.n < len(s.slots) {
		s.slots[s.n].Store(&slot[K]{key: key, c: c})
		s.n++
	}
	return c
}
