package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// benchSetup starts a lean loopback upstream (it keeps no record of
// requests) and a gateway in front of it: GET /v1/models on a plain
// prefix route, POST /v1/chat/completions on a model route (the body is
// read and inspected).
func benchSetup(b *testing.B) (direct, mesh string, c *http.Client) {
	b.Helper()
	resp := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	}))
	b.Cleanup(srv.Close)
	cfg := meshDoc("DROP_ALL") + addrNode("llm", srv.Listener.Addr().String()) + vsRouter("bench.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/chat/, method: POST, model: {exact: llama}}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
- name: models
  httpRoute:
    match: {prefix: /v1/models, method: GET}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
`)
	g := startGW(b, cfg, gateway.Options{})
	return srv.URL, g.mesh, client(b)
}

var benchChat = []byte(`{"model":"llama","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}],"max_tokens":16}`)

// benchRequest sends one request and reads the answer; host "" means the
// URL's.
func benchRequest(b *testing.B, c *http.Client, method, url, host string, body []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		b.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

var benchCases = []struct {
	name, method, path string
	body               []byte
}{
	{"get", "GET", "/v1/models", nil},
	{"chat", "POST", "/v1/chat/completions", benchChat},
}

// BenchmarkProxy measures one request through the gateway's mesh listener
// to a loopback upstream next to the same request sent to the upstream
// directly (sequential, keep-alive). Allocations include the client's.
//
//	go test -run '^$' -bench Proxy -benchmem ./internal/gateway/
func BenchmarkProxy(b *testing.B) {
	direct, mesh, c := benchSetup(b)
	for _, bc := range benchCases {
		b.Run(bc.name+"/direct", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequest(b, c, bc.method, direct+bc.path, "", bc.body)
			}
		})
		b.Run(bc.name+"/gateway", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequest(b, c, bc.method, mesh+bc.path, "bench.local", bc.body)
			}
		})
	}
}

// BenchmarkOverhead alternates a direct and a gateway request in every
// iteration, so both see the same machine load, and reports each one's
// mean latency and their ratio.
func BenchmarkOverhead(b *testing.B) {
	direct, mesh, c := benchSetup(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			var dd, dg time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				benchRequest(b, c, bc.method, direct+bc.path, "", bc.body)
				t1 := time.Now()
				benchRequest(b, c, bc.method, mesh+bc.path, "bench.local", bc.body)
				dg += time.Since(t1)
				dd += t1.Sub(t0)
				n++
			}
			b.ReportMetric(float64(dd.Nanoseconds())/float64(n), "direct-ns/req")
			b.ReportMetric(float64(dg.Nanoseconds())/float64(n), "gateway-ns/req")
			b.ReportMetric(float64(dg)/float64(dd), "gateway/direct")
		})
	}
}
