package telemetry

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// sample finds the metric of family name whose labels include want and
// returns it, or nil.
func sample(t *testing.T, m *Metrics, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, mt := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range mt.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return mt
		}
	}
	return nil
}

func counterValue(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	s := sample(t, m, name, labels)
	if s == nil {
		return 0
	}
	if s.Counter != nil {
		return s.GetCounter().GetValue()
	}
	return s.GetGauge().GetValue()
}

func histCount(t *testing.T, m *Metrics, name string, labels map[string]string) uint64 {
	t.Helper()
	s := sample(t, m, name, labels)
	if s == nil {
		return 0
	}
	return s.GetHistogram().GetSampleCount()
}

func TestRouteMetricsObserve(t *testing.T) {
	m := NewMetrics()
	r := m.Route("gw:8080", "ai-api-service.local", "chat", "vllm-a")
	route := map[string]string{"listener": "gw:8080", "virtual_service": "ai-api-service.local", "route": "chat", "virtual_node": "vllm-a"}
	with := func(k, v string) map[string]string {
		out := map[string]string{k: v}
		for kk, vv := range route {
			out[kk] = vv
		}
		return out
	}

	r.Observe(200, 120*time.Millisecond, 30*time.Millisecond)
	r.Observe(200, 3*time.Second, 0) // no byte sent: no TTFB sample
	r.Observe(503, time.Millisecond, time.Millisecond)
	for i := range cacheSlots + 3 { // more codes than the cache holds still count
		r.Observe(600+i, time.Millisecond, 0)
	}
	r.Observe(617, time.Millisecond, 0)
	r.Retry()
	r.Retry()
	r.Fallback()
	r.UpstreamError(UpstreamErrTimeout)
	m.UpstreamError("vllm-a", UpstreamErrTimeout)
	m.UpstreamError("vllm-a", UpstreamErrConnect)

	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"200s", "aimesh_requests_total", with("code", "200"), 2},
		{"503s", "aimesh_requests_total", with("code", "503"), 1},
		{"uncached code", "aimesh_requests_total", with("code", "617"), 2},
		{"retries", "aimesh_retries_total", map[string]string{"virtual_service": "ai-api-service.local", "route": "chat", "virtual_node": "vllm-a"}, 2},
		{"fallbacks", "aimesh_fallbacks_total", map[string]string{"route": "chat", "virtual_node": "vllm-a"}, 1},
		{"timeouts", "aimesh_upstream_errors_total", map[string]string{"virtual_node": "vllm-a", "kind": "timeout"}, 2},
		{"connect", "aimesh_upstream_errors_total", map[string]string{"virtual_node": "vllm-a", "kind": "connect"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterValue(t, m, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	if got := histCount(t, m, "aimesh_request_duration_seconds", route); got != uint64(3+cacheSlots+3+1) {
		t.Errorf("duration samples = %d", got)
	}
	if got := histCount(t, m, "aimesh_time_to_first_byte_seconds", map[string]string{"virtual_node": "vllm-a"}); got != 2 {
		t.Errorf("ttfb samples = %d, want 2", got)
	}
	if s := sample(t, m, "aimesh_time_to_first_byte_seconds", nil); s != nil {
		for _, lp := range s.GetLabel() {
			if lp.GetName() == "listener" {
				t.Errorf("ttfb carries a listener label")
			}
		}
	}
}

func TestRouteHandlesAreShared(t *testing.T) {
	m := NewMetrics()
	a := m.Route("l", "vs", "r", "n")
	if b := m.Route("l", "vs", "r", "n"); a != b {
		t.Fatal("same labels returned different handles")
	}
	if c := m.Route("l", "vs", "r", "other"); a == c {
		t.Fatal("different labels returned the same handle")
	}
	if m.Listener("x") != m.Listener("x") {
		t.Fatal("same listener returned different handles")
	}
}

func TestRouteMetricsConcurrent(t *testing.T) {
	m := NewMetrics()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := m.Route("l", "vs", "r", "n") // handles are asked for concurrently too
			for i := range 1000 {
				r.Observe(200+(i+g)%5*100, time.Millisecond, time.Millisecond)
				r.UpstreamError([]string{UpstreamErrConnect, UpstreamErrReset}[i%2])
			}
		})
	}
	wg.Wait()
	var total float64
	for _, code := range []string{"200", "300", "400", "500", "600"} {
		total += counterValue(t, m, "aimesh_requests_total", map[string]string{"code": code})
	}
	if total != 8000 {
		t.Errorf("requests total = %v, want 8000", total)
	}
	if got := counterValue(t, m, "aimesh_upstream_errors_total", map[string]string{"kind": "reset"}); got != 4000 {
		t.Errorf("reset errors = %v, want 4000", got)
	}
}

func TestListenerInFlight(t *testing.T) {
	m := NewMetrics()
	l := m.Listener("gw:8080")
	l.InFlightInc()
	l.InFlightInc()
	l.InFlightDec()
	if got := counterValue(t, m, "aimesh_requests_in_flight", map[string]string{"listener": "gw:8080"}); got != 1 {
		t.Errorf("in flight = %v, want 1", got)
	}
	l.HandOff()
	if got := counterValue(t, m, "aimesh_http1_handoffs_total", map[string]string{"listener": "gw:8080"}); got != 1 {
		t.Errorf("hand-offs = %v, want 1", got)
	}
}

func TestReload(t *testing.T) {
	m := NewMetrics()
	m.now = func() time.Time { return time.Unix(1700000000, 500_000_000) }
	m.Reload(true, 7)
	m.Reload(false, 8)
	m.Reload(false, 9)
	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"aimesh_config_reloads_total", map[string]string{"result": "success"}, 1},
		{"aimesh_config_reloads_total", map[string]string{"result": "failure"}, 2},
		{"aimesh_config_generation", nil, 7},
		{"aimesh_config_last_reload_success_timestamp_seconds", nil, 1700000000.5},
	}
	for _, tt := range tests {
		if got := counterValue(t, m, tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
}

func TestHandlerExposition(t *testing.T) {
	m := NewMetrics()
	m.Route("gw", "vs", "r", "n").Observe(200, 2*time.Second, 500*time.Millisecond)
	m.Listener("gw")
	m.Reload(true, 1)
	m.UpstreamError("n", UpstreamErrReset)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	for _, want := range []string{
		`aimesh_requests_total{code="200",listener="gw",route="r",virtual_node="n",virtual_service="vs"} 1`,
		`aimesh_request_duration_seconds_bucket{listener="gw",route="r",virtual_node="n",virtual_service="vs",le="600"} 1`,
		`aimesh_request_duration_seconds_bucket{listener="gw",route="r",virtual_node="n",virtual_service="vs",le="0.001"} 0`,
		`aimesh_time_to_first_byte_seconds_count{route="r",virtual_node="n",virtual_service="vs"} 1`,
		`aimesh_requests_in_flight{listener="gw"} 0`,
		`aimesh_retries_total{route="r",virtual_node="n",virtual_service="vs"} 0`,
		`aimesh_fallbacks_total{route="r",virtual_node="n",virtual_service="vs"} 0`,
		`aimesh_upstream_errors_total{kind="reset",virtual_node="n"} 1`,
		`aimesh_config_reloads_total{result="failure"} 0`,
		`aimesh_config_generation 1`,
		"aimesh_config_last_reload_success_timestamp_seconds ",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func TestMetricsAreNotGlobal(t *testing.T) {
	// Two instances must not collide (no global registration).
	a, b := NewMetrics(), NewMetrics()
	a.Route("l", "vs", "r", "n").Retry()
	if got := counterValue(t, b, "aimesh_retries_total", nil); got != 0 {
		t.Errorf("second registry sees the first's retries: %v", got)
	}
}
