package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// echoStream answers each gRPC message as it arrives (a bidirectional
// stream) and ends when the client closes its side.
func echoStream(u *upstream, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	buf := make([]byte, 5+255)
	for {
		if _, err := io.ReadFull(r.Body, buf[:5]); err != nil {
			break
		}
		n := int(buf[4])
		if _, err := io.ReadFull(r.Body, buf[5:5+n]); err != nil {
			break
		}
		w.Write(grpcFrame(append([]byte("echo "), buf[5:5+n]...)))
		http.NewResponseController(w).Flush()
	}
	w.Header().Set("Grpc-Status", "0")
}

// TestGRPCBidiStream proves that a gRPC bidirectional stream flows through
// a grpcRoute with App Mesh's implicit retry policy: the reply to the
// first message arrives while the client's side is still open, so the
// body is streamed, not read to its end before the first attempt.
func TestGRPCBidiStream(t *testing.T) {
	up := newStreamingH2CUpstream(t, "bidi", echoStream)
	cfg := meshDoc("DROP_ALL") + nodeDoc("bidi", 80, "grpc", up.addr()) + vsRouter("g.local", "r") +
		routerDoc("r", []string{"9100/grpc"}, `
- name: chat
  grpcRoute:
    match: {serviceName: pkg.Chat}
    action: {weightedTargets: [{virtualNode: bidi, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c := h2cClient(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", g.mesh+"/pkg.Chat/Converse", pr)
	req.Host = "g.local"
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() { resp, err := c.Do(req); done <- result{resp, err} }()
	var resp *http.Response
	for i, msg := range []string{"one", "two", "three"} {
		if _, err := pw.Write(grpcFrame([]byte(msg))); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			select {
			case r := <-done:
				if r.err != nil {
					t.Fatal(r.err)
				}
				resp = r.resp
				defer resp.Body.Close()
			case <-time.After(5 * time.Second):
				t.Fatal("no response headers while the client stream is open: the request body is held back")
			}
		}
		want := "echo " + msg
		buf := make([]byte, 5+len(want))
		got := make(chan error, 1)
		go func() { _, err := io.ReadFull(resp.Body, buf); got <- err }()
		select {
		case err := <-got:
			if err != nil || string(buf[5:]) != want {
				t.Fatalf("reply %d: %q, %v", i, buf, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no reply to message %d while the client stream is open", i)
		}
	}
	pw.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	if s := resp.Trailer.Get("Grpc-Status"); s != "0" {
		t.Errorf("grpc-status %q, want 0", s)
	}
}

// readThen503 reads the whole request body, then answers 503.
func readThen503(u *upstream, w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	statusHandler(503)(u, w, r)
}

// TestStreamedBodyRetries proves that a body streamed to the upstream (not
// read for the model) is sent again, byte for byte, by retries and the
// fallback when it fits in MaxBodyBytes, with or without Content-Length;
// and that a longer body is forwarded (no 413) but, once sent, not sent
// again: the client gets the upstream's answer.
func TestStreamedBodyRetries(t *testing.T) {
	const max = 64 << 10
	for _, tc := range []struct {
		name     string
		size     int
		chunked  bool
		wantCode int
		wantBad  int64 // attempts at the failing target
		wantGood int64 // at the fallback
	}{
		{"fits", 10 << 10, false, 200, 3, 1},
		{"fits, chunked", 10 << 10, true, 200, 3, 1},
		{"longer than MaxBodyBytes", 200 << 10, false, 503, 1, 0},
		{"longer than MaxBodyBytes, chunked", 200 << 10, true, 503, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := newUpstream(t, "bad", readThen503)
			good := newUpstream(t, "good", nil)
			cfg := meshDoc("DROP_ALL") + upNode("bad", bad) + upNode("good", good) + vsRouter("up.local", "r") +
				routerDoc("r", []string{"8080/http"}, `
- name: upload
  httpRoute:
    match: {prefix: /v1/files}
    action:
      weightedTargets: [{virtualNode: bad, weight: 1}]
      fallback: [{virtualNode: good}]
`)
			g := startGW(t, cfg, gateway.Options{MaxBodyBytes: max})
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16)
			var rd io.Reader = bytes.NewReader(body)
			if tc.chunked {
				rd = hideLength{rd}
			}
			req, _ := http.NewRequest("POST", g.mesh+"/v1/files", rd)
			req.Host = "up.local"
			resp, err := client(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantCode)
			}
			if bad.hits.Load() != tc.wantBad || good.hits.Load() != tc.wantGood {
				t.Errorf("attempts: failing target %d, fallback %d; want %d and %d", bad.hits.Load(), good.hits.Load(), tc.wantBad, tc.wantGood)
			}
			var seen []seenRequest
			for _, u := range []*upstream{bad, good} {
				u.mu.Lock()
				seen = append(seen, u.seen...)
				u.mu.Unlock()
			}
			for i, s := range seen {
				if !bytes.Equal(s.Body, body) {
					t.Errorf("attempt %d got %d bytes, want the %d sent, byte for byte", i, len(s.Body), len(body))
				}
			}
		})
	}
}
