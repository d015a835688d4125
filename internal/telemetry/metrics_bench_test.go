package telemetry

import (
	"testing"
	"time"
)

func BenchmarkRouteMetricsObserve(b *testing.B) {
	r := NewMetrics().Route("gw:8080", "ai-api-service.local", "chat", "vllm-a")
	r.Observe(200, time.Millisecond, time.Millisecond)
	r.Observe(429, time.Millisecond, time.Millisecond)
	r.Observe(503, time.Millisecond, time.Millisecond)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Observe(200, 250*time.Millisecond, 40*time.Millisecond)
	}
}

func BenchmarkRouteMetricsObserveParallel(b *testing.B) {
	r := NewMetrics().Route("gw:8080", "ai-api-service.local", "chat", "vllm-a")
	codes := [...]int{200, 200, 200, 429, 503, 200, 200, 500}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe(codes[i%len(codes)], 250*time.Millisecond, 40*time.Millisecond)
			i++
		}
	})
}

// BenchmarkWithLabelValues is the per-request label lookup the handles avoid.
func BenchmarkWithLabelValues(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	for b.Loop() {
		m.requests.WithLabelValues("gw:8080", "ai-api-service.local", "chat", "vllm-a", "200").Inc()
		m.duration.WithLabelValues("gw:8080", "ai-api-service.local", "chat", "vllm-a").Observe(0.25)
		m.ttfb.WithLabelValues("ai-api-service.local", "chat", "vllm-a").Observe(0.04)
	}
}
