package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// bigChat is a valid chat request of exactly size bytes for model (JSON
// whitespace pads it).
func bigChat(model string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"model":%q,"messages":[{"role":"user","content":"`, model)
	const line = `The quick brown fox jumps over the lazy dog \u00e9\u4e16 \"quoted\" é世\n`
	const end = `"}],"stream":false}`
	if n := (size - b.Len() - len(end)) / len(line); n > 0 {
		b.Write(bytes.Repeat([]byte(line), n))
	}
	b.WriteString(end)
	if b.Len() < size {
		b.Write(bytes.Repeat([]byte{' '}, size-b.Len()))
	}
	return b.Bytes()
}

// hideLength makes a request body of unknown length (sent chunked).
type hideLength struct{ r io.Reader }

func (h hideLength) Read(p []byte) (int, error) { return h.r.Read(p) }

// TestClientErrors proves the status and OpenAI-shaped JSON error of
// every failure aimesh answers itself, and that a body read for its model
// reaches the upstream byte for byte (a multi-MiB one too, with or
// without Content-Length).
func TestClientErrors(t *testing.T) {
	const maxBody = 3 << 20
	echo := newUpstream(t, "echo", nil)
	hang := newUpstream(t, "hang", hangHandler)
	cfg := meshDoc("DROP_ALL") + upNode("echo", echo) + upNode("hang", hang) + addrNode("down", closedAddr(t)) +
		vsRouter("api.local", "r") + routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/, method: POST, model: {prefix: llama}}
    action: {weightedTargets: [{virtualNode: echo, weight: 1}]}
- name: slow
  httpRoute:
    match: {prefix: /slow/}
    action: {weightedTargets: [{virtualNode: hang, weight: 1}]}
    timeout: {perRequest: {value: 200, unit: ms}}
- name: down
  httpRoute:
    match: {prefix: /down/}
    action: {weightedTargets: [{virtualNode: down, weight: 1}]}
`) + `
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: unprovided.local}
spec: {}
`
	g := startGW(t, cfg, gateway.Options{MaxBodyBytes: maxBody})
	c := client(t)

	errCases := []struct {
		name       string
		method     string
		path, host string
		body       []byte
		chunked    bool
		status     int
		code       string
	}{
		{"no route", "GET", "/nothing", "api.local", nil, false, 404, "route_not_found"},
		{"no route serves the model", "POST", "/v1/chat/completions", "api.local", chatBody("gpt-4o"), false, 404, "model_not_found"},
		{"bad JSON where the model was needed", "POST", "/v1/chat/completions", "api.local", []byte(`{"model": "llama`), false, 400, "bad_json"},
		{"model not a string", "POST", "/v1/chat/completions", "api.local", []byte(`{"model": 7}`), false, 400, "invalid_model"},
		{"body over max-body-bytes", "POST", "/v1/chat/completions", "api.local", bigChat("llama", maxBody+1), false, 413, "request_too_large"},
		{"chunked body over max-body-bytes", "POST", "/v1/chat/completions", "api.local", bigChat("llama", maxBody+1), true, 413, "request_too_large"},
		{"connect failure", "GET", "/down/", "api.local", nil, false, 502, "upstream_connect_error"},
		{"timeout", "GET", "/slow/", "api.local", nil, false, 504, "upstream_timeout"},
		{"service without provider", "GET", "/", "unprovided.local", nil, false, 503, "no_healthy_upstream"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != nil {
				rd = bytes.NewReader(tc.body)
				if tc.chunked {
					rd = hideLength{rd}
				}
			}
			req, _ := http.NewRequest(tc.method, g.mesh+tc.path, rd)
			req.Host = tc.host
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, reply{resp.StatusCode, resp.Header, b}, tc.status, tc.code)
		})
	}

	bodies := []struct {
		name    string
		body    []byte
		chunked bool
	}{
		{"small", []byte("{\"model\" : \"llama-3\",\n \"messages\":[{\"role\":\"user\",\"content\":\"h\u00e9llo \\u00e9\"}] }  \n"), false},
		{"2 MiB", bigChat("llama-3", 2<<20), false},
		{"2 MiB chunked", bigChat("llama-3", 2<<20), true},
		{"exactly max-body-bytes", bigChat("llama-3", maxBody), false},
	}
	for _, tc := range bodies {
		t.Run("body intact/"+tc.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				rd = hideLength{rd}
			}
			req, _ := http.NewRequest("POST", g.mesh+"/v1/chat/completions", rd)
			req.Host = "api.local"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			seen := echo.last(t)
			if !bytes.Equal(seen.Body, tc.body) {
				t.Fatalf("upstream got %d bytes, want the %d sent, byte for byte", len(seen.Body), len(tc.body))
			}
			if cl := seen.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(tc.body)) {
				t.Errorf("upstream Content-Length %s, want %d", cl, len(tc.body))
			}
		})
	}
}

// TestNoEndpoints proves, with a VirtualNode that has no endpoints (a
// Kubernetes Service nothing has fed yet), a 503 no_healthy_upstream, and
// a route's fallback target serving in its place.
func TestNoEndpoints(t *testing.T) {
	fb := newUpstream(t, "fb", nil)
	cfg := meshDoc("DROP_ALL") + kubeNode("empty") + vsNode("empty.local", "empty") + upNode("fb", fb) +
		vsRouter("fb.local", "r") + routerDoc("r", []string{"8080/http"}, `
- name: with-fallback
  httpRoute:
    match: {prefix: /}
    action:
      weightedTargets: [{virtualNode: empty, weight: 1}]
      fallback: [{virtualNode: fb}]
`)
	g := startGW(t, cfg, gateway.Options{Kubernetes: true})
	c := client(t)
	r := call(t, c, "GET", g.mesh+"/v1/models", "empty.local", nil, nil)
	wantError(t, r, http.StatusServiceUnavailable, "no_healthy_upstream")
	if !strings.Contains(string(r.body), "empty") {
		t.Errorf("the error does not name the node: %s", r.body)
	}
	r = call(t, c, "POST", g.mesh+"/v1/chat/completions", "fb.local", nil, chatBody("llama"))
	if r.code != 200 || r.header.Get("X-Upstream") != "fb" {
		t.Fatalf("fallback: %d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
	}
	if got := string(fb.last(t).Body); got != string(chatBody("llama")) {
		t.Errorf("fallback got body %q", got)
	}
}
