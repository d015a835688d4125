package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// Streaming responses from a plaintext HTTP/1.1 upstream to a plaintext
// HTTP/1.1 client leave net/http for a lean relay (proxy.Stream) and the
// client connection comes back for its next request. These tests speak
// raw HTTP/1.1 on one client connection, so they see what a client sees:
// the framing, the order of pipelined answers, and cuts.

// rawUpstream answers every connection with the bytes resp returns for
// the request it read, then keeps or closes the connection.
type rawUpstream struct {
	ln    net.Listener
	conns atomic.Int32
}

func startRawUpstream(t *testing.T, resp func(req *http.Request) (b string, closeAfter bool)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					b, closeAfter := resp(req)
					if _, err := io.WriteString(c, b); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

// relayConfig routes /chunked, /length and /close (and anything else) on
// chat.local to the node "raw" and serves an access log at logPath.
func relayConfig(addr, logPath string, gwPort int) string {
	return meshDoc("DROP_ALL") + addrNode("raw", addr) + vsRouter("chat.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: all
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: [{virtualNode: raw, weight: 1}]}
`) + gatewayDoc("gw", gwPort, "http", fmt.Sprintf(`
accessLog:
  file:
    path: %s
    format:
      text: "%%REQ(:PATH)%% %%RESPONSE_CODE%% %%RESPONSE_FLAGS%% %%BYTES_SENT%%\n"
`, logPath)) + gatewayRouteDoc("all", "gw", `
httpRoute:
  match: {prefix: /}
  action: {target: {virtualService: {virtualServiceName: chat.local}}}`)
}

const sseEvents = "data: one\n\ndata: two\n\ndata: [DONE]\n\n"

// rawResponses answers by path: an event stream framed chunked (with a
// trailer), by Content-Length, or by closing the connection; /json is a
// plain JSON answer.
func rawResponses(req *http.Request) (string, bool) {
	switch req.URL.Path {
	case "/chunked":
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nTrailer: X-Tokens\r\n\r\n")
		for _, ev := range strings.SplitAfter(sseEvents, "\n\n") {
			if ev != "" {
				fmt.Fprintf(&b, "%x;ext=1\r\n%s\r\n", len(ev), ev)
			}
		}
		b.WriteString("0\r\nX-Tokens: 42\r\n\r\n")
		return b.String(), false
	case "/length":
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s", len(sseEvents), sseEvents), false
	case "/close":
		return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + sseEvents, true
	}
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", false
}

func TestStreamRelayFramingAndKeepAlive(t *testing.T) {
	up := startRawUpstream(t, rawResponses)
	logPath := filepath.Join(t.TempDir(), "access.log")
	gwPort := freePort(t)
	g := startGW(t, relayConfig(up.addr(), logPath, gwPort), gateway.Options{})
	addr := strings.TrimPrefix(g.gatewayURL(t, gwPort), "http://")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	send := func(path string) {
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: chat.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", path)
	}
	read := func(path string) *http.Response {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: reading the response on the kept connection: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: body: %v", path, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		if path != "/json" && string(body) != sseEvents {
			t.Fatalf("%s: body %q, want %q", path, body, sseEvents)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return resp
	}
	// One connection, each framing in turn, then a plain request: the
	// connection survives every stream.
	for _, path := range []string{"/chunked", "/length", "/close", "/json"} {
		send(path)
		resp := read(path)
		switch path {
		case "/chunked":
			if got := resp.Trailer.Get("X-Tokens"); got != "42" {
				t.Errorf("trailer X-Tokens %q, want 42 (passed through)", got)
			}
		case "/length":
			if resp.ContentLength != int64(len(sseEvents)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(sseEvents))
			}
		case "/close":
			if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("a body ended by the upstream's close reached the client as %v, want chunked", resp.TransferEncoding)
			}
		}
		if resp.Close {
			t.Fatalf("%s: the gateway closes the client connection after a stream", path)
		}
	}
	// Pipelined: a stream and a plain request in one write; answers in order.
	fmt.Fprintf(c, "POST /chunked HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 2\r\n\r\n{}"+
		"POST /json HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 2\r\n\r\n{}")
	read("/chunked")
	if resp := read("/json"); resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("pipelined second answer: Content-Type %q", resp.Header.Get("Content-Type"))
	}

	lines := logLines(t, logPath, 6)
	ev := fmt.Sprintf(" 200 - %d", len(sseEvents))
	want := []string{"/chunked" + ev, "/length" + ev, "/close" + ev, "/json 200 - 11", "/chunked" + ev, "/json 200 - 11"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestStreamRelayClientGone: a client that hangs up mid-stream frees the
// upstream (the model server stops generating) within one event.
func TestStreamRelayClientGone(t *testing.T) {
	gone := make(chan struct{})
	up := newUpstream(t, "sse", func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				break
			}
			if rc.Flush() != nil {
				break
			}
			select {
			case <-r.Context().Done():
				close(gone)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		close(gone)
	})
	gwPort := freePort(t)
	g := startGW(t, relayConfig(up.addr(), filepath.Join(t.TempDir(), "a.log"), gwPort), gateway.Options{})
	addr := strings.TrimPrefix(g.gatewayURL(t, gwPort), "http://")
	c, resp := openRawStream(t, addr)
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "data: 0\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream kept streaming 5s after the client hung up")
	}
}

// TestStreamRelayClientGoneQuiet: a client that hangs up while its
// stream is quiet (the model server sent its headers and queues the
// request) frees the upstream at once, not at the next event.
func TestStreamRelayClientGoneQuiet(t *testing.T) {
	gone := make(chan struct{})
	up := newUpstream(t, "sse", func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(30 * time.Second):
		}
	})
	gwPort := freePort(t)
	g := startGW(t, relayConfig(up.addr(), filepath.Join(t.TempDir(), "a.log"), gwPort), gateway.Options{})
	addr := strings.TrimPrefix(g.gatewayURL(t, gwPort), "http://")
	c, _ := openRawStream(t, addr)
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream still held the request 5s after the client hung up on a quiet stream")
	}
}

// TestStreamRelayDrain: Shutdown waits for a relayed stream that ends in
// time, and cuts one that does not at the drain timeout.
func TestStreamRelayDrain(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, "sse", sseFirstThenWait(release))
	gwPort := freePort(t)
	g := startGW(t, relayConfig(up.addr(), filepath.Join(t.TempDir(), "a.log"), gwPort), gateway.Options{DrainTimeout: 2 * time.Second})
	addr := strings.TrimPrefix(g.gatewayURL(t, gwPort), "http://")
	open := func() *bufio.Reader {
		_, resp := openRawStream(t, addr)
		body := bufio.NewReader(resp.Body)
		if line, err := body.ReadString('\n'); err != nil || line != "data: first\n" {
			t.Fatalf("first event %q, %v", line, err)
		}
		return body
	}
	finishing := open()
	shut := make(chan error, 1)
	start := time.Now()
	go func() { shut <- g.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a stream open", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release) // the stream ends within the drain
	rest, err := io.ReadAll(finishing)
	if err != nil || !strings.Contains(string(rest), "data: [DONE]") {
		t.Fatalf("a stream ending within the drain was cut: %q, %v", rest, err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Shutdown took %s after the last stream ended early", el)
	}
}

func TestStreamRelayDrainCuts(t *testing.T) {
	up := newUpstream(t, "sse", sseFirstThenWait(make(chan struct{})))
	gwPort := freePort(t)
	g := startGW(t, relayConfig(up.addr(), filepath.Join(t.TempDir(), "a.log"), gwPort), gateway.Options{DrainTimeout: 500 * time.Millisecond})
	addr := strings.TrimPrefix(g.gatewayURL(t, gwPort), "http://")
	_, resp := openRawStream(t, addr)
	start := time.Now()
	if err := g.Shutdown(context.Background()); err == nil {
		t.Error("Shutdown reported a clean drain with a stream cut")
	}
	if el := time.Since(start); el < 400*time.Millisecond || el > 5*time.Second {
		t.Errorf("Shutdown took %s, want about the 500ms drain timeout", el)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the cut stream ended like a complete one; want an error")
	}
}

// openRawStream sends a chat request on a new connection to addr and
// reads the response head; the caller reads the body from resp.
func openRawStream(t *testing.T, addr string) (net.Conn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: chat.example\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, resp
}
