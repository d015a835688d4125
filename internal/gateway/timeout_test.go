package gateway_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// sseFirstThenWait sends one SSE chunk and flushes, then waits for release
// (or the request's end) before finishing the stream with [DONE].
func sseFirstThenWait(release <-chan struct{}) handlerFunc {
	return func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
}

// readLine reads one line from br within d; ok is false on timeout.
func readLine(br *bufio.Reader, d time.Duration) (line string, err error, ok bool) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := br.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err, true
	case <-time.After(d):
		return "", nil, false
	}
}

// TestTimeouts proves the route timeouts: perRequest gives a 504 with an
// OpenAI-shaped error, idle cuts a stream that stalls after its first
// chunk, and perRetryTimeout moves a hung attempt on to another endpoint.
func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := newUpstream(t, "hang", hangHandler)
	stall := newUpstream(t, "stall", sseFirstThenWait(release))
	hang2 := newUpstream(t, "hang2", hangHandler)
	ok := newUpstream(t, "ok", nil)
	cfg := meshDoc("DROP_ALL") + upNode("hang", hang) + upNode("stall", stall) + upNode("pertry", hang2, ok) +
		vsRouter("t.local", "r") + routerDoc("r", []string{"8080/http"}, `
- name: per-request
  httpRoute:
    match: {prefix: /per-request}
    action: {weightedTargets: [{virtualNode: hang, weight: 1}]}
    timeout: {perRequest: {value: 300, unit: ms}}
- name: idle
  httpRoute:
    match: {prefix: /idle}
    action: {weightedTargets: [{virtualNode: stall, weight: 1}]}
    timeout: {idle: {value: 300, unit: ms}}
- name: per-try
  httpRoute:
    match: {prefix: /per-try}
    action: {weightedTargets: [{virtualNode: pertry, weight: 1}]}
    retryPolicy: {maxRetries: 1, perRetryTimeout: {value: 200, unit: ms}, httpRetryEvents: [gateway-error]}
    timeout: {perRequest: {value: 10, unit: s}}
`)
	g := startGW(t, cfg, gateway.Options{})
	c := client(t)

	t.Run("perRequest gives 504", func(t *testing.T) {
		start := time.Now()
		r := call(t, c, "POST", g.mesh+"/per-request", "t.local", nil, chatBody("llama"))
		el := time.Since(start)
		wantError(t, r, http.StatusGatewayTimeout, "upstream_timeout")
		if el < 300*time.Millisecond || el > 5*time.Second {
			t.Errorf("answered after %s, want about 300ms", el)
		}
		if n := hang.hits.Load(); n != 1 {
			t.Errorf("%d attempts, want 1 (the perRequest timeout ends the request)", n)
		}
	})

	t.Run("idle cuts a stalled stream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", g.mesh+"/idle", nil)
		req.Host = "t.local"
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err, ok := readLine(br, 5*time.Second); !ok || err != nil || line != "data: first\n" {
			t.Fatalf("first line %q, %v (in time: %v)", line, err, ok)
		}
		start := time.Now()
		_, err = io.ReadAll(br)
		el := time.Since(start)
		if err == nil {
			t.Fatal("the stalled stream ended cleanly; want it cut with an error")
		}
		if el < 200*time.Millisecond || el > 5*time.Second {
			t.Errorf("stream cut after %s of silence, want about 300ms", el)
		}
	})

	t.Run("perRetryTimeout moves on", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			start := time.Now()
			r := call(t, c, "GET", g.mesh+"/per-try", "t.local", nil, nil)
			if r.code != 200 || r.header.Get("X-Upstream") != "ok" {
				t.Fatalf("request %d: %d from %q: %s", i, r.code, r.header.Get("X-Upstream"), r.body)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("request %d took %s", i, el)
			}
		}
		if hang2.hits.Load() == 0 {
			t.Fatal("the hanging endpoint was never tried; the test proves nothing")
		}
		if ok.hits.Load() != 4 {
			t.Errorf("ok served %d of 4", ok.hits.Load())
		}
	})
}

// TestStreamFirstChunk proves streaming: the first SSE chunk reaches the
// client while the upstream is still blocked before its second one, on
// the mesh listener (HTTP/1.1 and h2c) and on a VirtualGateway listener.
func TestStreamFirstChunk(t *testing.T) {
	gwPort := freePort(t)
	var cur atomic.Pointer[chan struct{}] // this subtest's release
	up := newUpstream(t, "sse", func(u *upstream, w http.ResponseWriter, r *http.Request) {
		sseFirstThenWait(*cur.Load())(u, w, r)
	})
	cfg := meshDoc("DROP_ALL") + upNode("sse", up) + vsRouter("chat.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/, model: {exact: llama}}
    action: {weightedTargets: [{virtualNode: sse, weight: 1}]}
`) + gatewayDoc("gw", gwPort, "http", "") + gatewayRouteDoc("all", "gw", `
httpRoute:
  match: {prefix: /}
  action: {target: {virtualService: {virtualServiceName: chat.local}}}`)
	g := startGW(t, cfg, gateway.Options{})
	tests := []struct {
		name string
		url  string
		c    *http.Client
	}{
		{"mesh http/1.1", g.mesh, client(t)},
		{"mesh h2c", g.mesh, h2cClient(t)},
		{"gateway", g.gatewayURL(t, gwPort), client(t)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			cur.Store(&release)
			req, _ := http.NewRequest("POST", tc.url+"/v1/chat/completions",
				strings.NewReader(`{"model":"llama","stream":true,"messages":[]}`))
			req.Host = "chat.local"
			resp, err := tc.c.Do(req)
			if err != nil {
				close(release)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err, ok := readLine(br, 5*time.Second)
			if !ok {
				close(release)
				t.Fatal("the first chunk did not reach the client while the upstream was blocked")
			}
			if err != nil || line != "data: first\n" {
				close(release)
				t.Fatalf("first line %q, %v", line, err)
			}
			close(release)
			rest, err := io.ReadAll(br)
			if err != nil || !strings.Contains(string(rest), "data: [DONE]") {
				t.Fatalf("rest of the stream %q, %v", rest, err)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
