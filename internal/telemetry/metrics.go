package telemetry

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric aimesh exports.
const Namespace = "aimesh"

// Upstream error kinds, the values of the kind label of
// aimesh_upstream_errors_total. Callers may use others; these are the ones
// dashboards should expect.
const (
	UpstreamErrConnect   = "connect"    // dial or TLS handshake failed
	UpstreamErrTimeout   = "timeout"    // per-try or route timeout fired
	UpstreamErrReset     = "reset"      // connection reset or closed mid-response
	UpstreamErrStatus5xx = "status_5xx" // upstream answered 5xx
	UpstreamErrOverflow  = "overflow"   // connection pool or pending-request limit hit
	UpstreamErrProtocol  = "protocol"   // malformed response
)

// DurationBuckets are the histogram buckets (seconds) of request duration and
// time to first byte: fine-grained around fast API calls (1 ms to 1 s) and
// coarse up to the 10 minute generations long LLM answers can take.
var DurationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
}

// Metrics owns aimesh's Prometheus registry and every aimesh_* series. It is
// created once per process (or per test) by NewMetrics; nothing is
// registered globally. The data plane does not call the label-taking
// *Vec methods per request: it resolves RouteMetrics and ListenerMetrics
// handles when it compiles a snapshot and uses those.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttfb           *prometheus.HistogramVec
	inFlight       *prometheus.GaugeVec
	handoffs       *prometheus.CounterVec
	retries        *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	reloadSuccess  prometheus.Counter
	reloadFailure  prometheus.Counter
	lastReload     prometheus.Gauge
	generation     prometheus.Gauge

	now func() time.Time // for tests

	mu        sync.Mutex
	routes    map[routeKey]*RouteMetrics
	listeners map[string]*ListenerMetrics
}

// NewMetrics creates a registry with the Go runtime and process collectors
// and all aimesh_* series.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		now:       time.Now,
		routes:    make(map[routeKey]*RouteMetrics),
		listeners: make(map[string]*ListenerMetrics),
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "requests_total",
		Help:      "Requests answered, by listener, virtual service, route, virtual node and HTTP status code.",
	}, []string{"listener", "virtual_service", "route", "virtual_node", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "request_duration_seconds",
		Help:      "Time from the first request byte to the last response byte.",
		Buckets:   DurationBuckets,
	}, []string{"listener", "virtual_service", "route", "virtual_node"})
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "time_to_first_byte_seconds",
		Help:      "Time from the first request byte to the first response body byte; for streamed completions this is the time to first token.",
		Buckets:   DurationBuckets,
	}, []string{"virtual_service", "route", "virtual_node"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "requests_in_flight",
		Help:      "Requests being served, by listener.",
	}, []string{"listener"})
	m.handoffs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "http1_handoffs_total",
		Help:      "Plaintext connections the fast lane handed to net/http (h2c, HTTP/1.0, chunked or 100-continue uploads, unusual heads), by listener.",
	}, []string{"listener"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "retries_total",
		Help:      "Upstream retries made under a route's retry policy.",
	}, []string{"virtual_service", "route", "virtual_node"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "fallbacks_total",
		Help:      "Requests sent to a route's fallback target after its weighted targets failed or shed; virtual_node is the fallback node.",
	}, []string{"virtual_service", "route", "virtual_node"})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "upstream_errors_total",
		Help:      "Failed upstream attempts by virtual node and kind (connect, timeout, reset, status_5xx, overflow, protocol).",
	}, []string{"virtual_node", "kind"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "config_reloads_total",
		Help:      "Configuration reloads by result (success or failure).",
	}, []string{"result"})
	m.reloadSuccess = reloads.WithLabelValues("success")
	m.reloadFailure = reloads.WithLabelValues("failure")
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "config_last_reload_success_timestamp_seconds",
		Help:      "Unix time of the last successful configuration reload.",
	})
	m.generation = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "config_generation",
		Help:      "Generation of the routing snapshot being served.",
	})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.ttfb, m.inFlight, m.handoffs, m.retries, m.fallbacks,
		m.upstreamErrors, reloads, m.lastReload, m.generation,
	)
	return m
}

// Registry is the registry behind Handler, for packages that export their
// own collectors (model-server scrapes, limiters) next to aimesh's.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Reload records a configuration reload. On success generation becomes the
// served generation and the last-success timestamp is set to now.
func (m *Metrics) Reload(ok bool, generation int64) {
	if !ok {
		m.reloadFailure.Inc()
		return
	}
	m.reloadSuccess.Inc()
	m.generation.Set(float64(generation))
	m.lastReload.Set(float64(m.now().UnixNano()) / 1e9)
}

// UpstreamError counts one failed upstream attempt against node. It hashes
// its labels on every call; the request path should prefer
// (*RouteMetrics).UpstreamError, which caches them.
func (m *Metrics) UpstreamError(node, kind string) {
	m.upstreamErrors.WithLabelValues(node, kind).Inc()
}

// ListenerMetrics is the handle for one listener's series.
type ListenerMetrics struct {
	inFlight prometheus.Gauge
	handoffs prometheus.Counter
}

// Listener returns the handle for the named listener (e.g. "gateway:8080").
// The same name always returns the same handle.
func (m *Metrics) Listener(name string) *ListenerMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.listeners[name]; ok {
		return l
	}
	l := &ListenerMetrics{inFlight: m.inFlight.WithLabelValues(name), handoffs: m.handoffs.WithLabelValues(name)}
	m.listeners[name] = l
	return l
}

// InFlightInc marks a request as started on the listener.
func (l *ListenerMetrics) InFlightInc() { l.inFlight.Inc() }

// InFlightDec marks a request as finished on the listener.
func (l *ListenerMetrics) InFlightDec() { l.inFlight.Dec() }

// HandOff counts a connection the fast lane gave to net/http.
func (l *ListenerMetrics) HandOff() { l.handoffs.Inc() }

type routeKey struct{ listener, vs, route, node string }

// Route returns the handle for one (listener, virtual service, route,
// virtual node) combination, creating its series' children on first use.
// Snapshot compilation calls it for every target it can send to; the same
// labels always return the same handle, so counters cached in it (per status
// code, per error kind) survive snapshot swaps. Handles are never freed:
// their number is bounded by the configured routes and targets.
func (m *Metrics) Route(listener, vs, route, node string) *RouteMetrics {
	k := routeKey{listener, vs, route, node}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.routes[k]; ok {
		return r
	}
	r := &RouteMetrics{
		requests:  m.requests.MustCurryWith(prometheus.Labels{"listener": listener, "virtual_service": vs, "route": route, "virtual_node": node}),
		upErrors:  m.upstreamErrors.MustCurryWith(prometheus.Labels{"virtual_node": node}),
		duration:  m.duration.WithLabelValues(listener, vs, route, node),
		ttfb:      m.ttfb.WithLabelValues(vs, route, node),
		retries:   m.retries.WithLabelValues(vs, route, node),
		fallbacks: m.fallbacks.WithLabelValues(vs, route, node),
	}
	m.routes[k] = r
	return r
}
