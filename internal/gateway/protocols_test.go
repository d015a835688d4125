package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// grpcFrame is one length-prefixed gRPC message.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:5], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

// grpcHandler is a fake gRPC server: status 0 with one message and the
// status in trailers, or a trailers-only answer with status code.
func grpcHandler(code int) handlerFunc {
	return func(u *upstream, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		if code != 0 {
			w.Header().Set("Grpc-Status", strconv.Itoa(code))
			w.Header().Set("Grpc-Message", "unavailable")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		w.Write(grpcFrame([]byte("reply from " + u.name)))
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "")
	}
}

// tcpEcho is a TCP upstream that greets with "name:" and echoes.
type tcpEcho struct {
	name  string
	ln    net.Listener
	conns atomic.Int64
}

func newTCPEcho(t testing.TB, name string) *tcpEcho {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &tcpEcho{name: name, ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.WriteString(c, name+":")
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return e
}

// TestHTTP2GRPCAndTCP proves http2Route and grpcRoute over h2c (client to
// aimesh and aimesh to the upstream), gRPC serviceName, methodName and
// metadata matches, grpcRetryEvents unavailable moving to another
// endpoint, and tcpRoute weighted L4 forwarding on its listener port.
func TestHTTP2GRPCAndTCP(t *testing.T) {
	tcpPort := freePort(t)
	h2a, h2b := newH2CUpstream(t, "h2a", nil), newH2CUpstream(t, "h2b", nil)
	gs := map[string]*upstream{}
	for _, n := range []string{"g-generate", "g-acme", "g-chat", "ok"} {
		gs[n] = newH2CUpstream(t, n, grpcHandler(0))
	}
	unavail := newH2CUpstream(t, "unavail", grpcHandler(14))
	ta, tb := newTCPEcho(t, "tcp-a"), newTCPEcho(t, "tcp-b")
	cfg := meshDoc("DROP_ALL") +
		nodeDoc("h2a", 80, "http2", h2a.addr()) + nodeDoc("h2b", 80, "http2", h2b.addr()) +
		nodeDoc("g-generate", 80, "grpc", gs["g-generate"].addr()) +
		nodeDoc("g-acme", 80, "grpc", gs["g-acme"].addr()) +
		nodeDoc("g-chat", 80, "grpc", gs["g-chat"].addr()) +
		nodeDoc("g-retry", 80, "grpc", unavail.addr(), gs["ok"].addr()) +
		nodeDoc("g-down", 80, "grpc", fmt.Sprintf("127.0.0.1:%d", freePort(t))) +
		nodeDoc("tcp-a", 80, "tcp", ta.ln.Addr().String()) + nodeDoc("tcp-b", 80, "tcp", tb.ln.Addr().String()) +
		vsRouter("multi.local", "multi") +
		routerDoc("multi", []string{"8080/http2", "9100/grpc", fmt.Sprintf("%d/tcp", tcpPort)}, fmt.Sprintf(`
- name: h2-b
  http2Route:
    match: {port: 8080, prefix: /b, headers: [{name: x-v, match: {exact: "2"}}]}
    action: {weightedTargets: [{virtualNode: h2b, weight: 1}]}
- name: h2-a
  http2Route:
    match: {port: 8080, prefix: /}
    action: {weightedTargets: [{virtualNode: h2a, weight: 1}]}
- name: g-generate
  grpcRoute:
    match: {port: 9100, serviceName: pkg.Chat, methodName: Generate}
    action: {weightedTargets: [{virtualNode: g-generate, weight: 1}]}
- name: g-acme
  grpcRoute:
    match: {port: 9100, serviceName: pkg.Chat, metadata: [{name: x-tenant, match: {exact: acme}}]}
    action: {weightedTargets: [{virtualNode: g-acme, weight: 1}]}
- name: g-chat
  grpcRoute:
    match: {port: 9100, serviceName: pkg.Chat}
    action: {weightedTargets: [{virtualNode: g-chat, weight: 1}]}
- name: g-retry
  grpcRoute:
    match: {port: 9100, serviceName: pkg.Retry}
    action: {weightedTargets: [{virtualNode: g-retry, weight: 1}]}
    retryPolicy: {maxRetries: 2, perRetryTimeout: {value: 5, unit: s}, grpcRetryEvents: [unavailable]}
- name: g-down
  grpcRoute:
    match: {port: 9100, serviceName: pkg.Down}
    action: {weightedTargets: [{virtualNode: g-down, weight: 1}]}
- name: l4
  tcpRoute:
    match: {port: %d}
    action: {weightedTargets: [{virtualNode: tcp-a, weight: 50}, {virtualNode: tcp-b, weight: 50}]}
`, tcpPort))
	g := startGW(t, cfg, gateway.Options{})
	c := h2cClient(t)

	t.Run("http2Route", func(t *testing.T) {
		for _, tc := range []struct {
			path, xv, want string
		}{
			{"/b/x", "2", "h2b"},
			{"/b/x", "3", "h2a"},
			{"/other", "", "h2a"},
		} {
			req, _ := http.NewRequest("POST", g.mesh+tc.path, strings.NewReader("hello"))
			req.Host = "multi.local:8080"
			if tc.xv != "" {
				req.Header.Set("X-V", tc.xv)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != tc.want || resp.ProtoMajor != 2 {
				t.Fatalf("%s x-v=%s: %s %d from %q, want HTTP/2 200 from %s", tc.path, tc.xv, resp.Proto, resp.StatusCode, resp.Header.Get("X-Upstream"), tc.want)
			}
			up := map[string]*upstream{"h2a": h2a, "h2b": h2b}[tc.want]
			if s := up.last(t); s.Proto != "HTTP/2.0" || string(s.Body) != "hello" {
				t.Errorf("upstream got %s with body %q, want HTTP/2.0 with hello", s.Proto, s.Body)
			}
		}
	})

	grpcCall := func(t *testing.T, path string, md http.Header) (from, status, msg string) {
		t.Helper()
		req, _ := http.NewRequest("POST", g.mesh+path, bytes.NewReader(grpcFrame([]byte("ask"))))
		req.Host = "multi.local:9100"
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		for k, v := range md {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d, %v", path, resp.StatusCode, err)
		}
		status = resp.Trailer.Get("Grpc-Status")
		if status == "" {
			status = resp.Header.Get("Grpc-Status") // trailers-only
		}
		if len(b) > 5 {
			msg = string(b[5:])
		}
		return resp.Header.Get("X-Upstream"), status, msg
	}

	t.Run("grpcRoute", func(t *testing.T) {
		for _, tc := range []struct {
			name, path string
			md         http.Header
			want       string
		}{
			{"serviceName and methodName", "/pkg.Chat/Generate", nil, "g-generate"},
			{"metadata", "/pkg.Chat/List", http.Header{"X-Tenant": {"acme"}}, "g-acme"},
			{"serviceName only", "/pkg.Chat/List", http.Header{"X-Tenant": {"other"}}, "g-chat"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				from, status, msg := grpcCall(t, tc.path, tc.md)
				if from != tc.want || status != "0" || msg != "reply from "+tc.want {
					t.Fatalf("from %q, grpc-status %q, message %q; want %s, 0", from, status, msg, tc.want)
				}
				if s := gs[tc.want].last(t); s.Proto != "HTTP/2.0" || s.Path != tc.path || !bytes.Equal(s.Body, grpcFrame([]byte("ask"))) {
					t.Errorf("upstream got %s %s %q", s.Proto, s.Path, s.Body)
				}
			})
		}
		// Calls aimesh itself fails get a gRPC status, Trailers-Only,
		// not an HTTP error with a JSON body a gRPC client cannot read.
		grpcFailure := func(t *testing.T, path, wantStatus, wantInMessage string) {
			t.Helper()
			req, _ := http.NewRequest("POST", g.mesh+path, bytes.NewReader(grpcFrame(nil)))
			req.Host = "multi.local:9100"
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("Te", "trailers")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 || len(b) != 0 {
				t.Fatalf("%s %d with %d body bytes, want HTTP/2 200 with none", resp.Proto, resp.StatusCode, len(b))
			}
			if st, msg := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message"); st != wantStatus || !strings.Contains(msg, wantInMessage) {
				t.Fatalf("grpc-status %q, grpc-message %q; want %s with %q", st, msg, wantStatus, wantInMessage)
			}
		}
		t.Run("upstream down", func(t *testing.T) {
			grpcFailure(t, "/pkg.Down/Call", "14", "could not connect") // UNAVAILABLE
		})
		t.Run("unknown service", func(t *testing.T) {
			grpcFailure(t, "/pkg.Other/Call", "12", "route") // UNIMPLEMENTED
			// The same call by a client that is not gRPC gets the JSON error.
			r := call(t, c, "POST", g.mesh+"/pkg.Other/Call", "multi.local:9100", http.Header{"Content-Type": {"application/json"}}, grpcFrame(nil))
			wantError(t, r, http.StatusNotFound, "route_not_found")
		})
		t.Run("retry on unavailable", func(t *testing.T) {
			for i := 0; i < 4; i++ {
				from, status, _ := grpcCall(t, "/pkg.Retry/Call", nil)
				if from != "ok" || status != "0" {
					t.Fatalf("call %d: from %q with grpc-status %q, want ok with 0", i, from, status)
				}
			}
			if unavail.hits.Load() == 0 {
				t.Fatal("the unavailable endpoint was never tried; the test proves nothing")
			}
			if gs["ok"].hits.Load() != 4 {
				t.Errorf("ok answered %d of 4", gs["ok"].hits.Load())
			}
		})
	})

	t.Run("tcpRoute", func(t *testing.T) {
		addr := g.ListenerAddr("tcp:" + strconv.Itoa(tcpPort))
		if addr == nil {
			t.Fatalf("no TCP listener on %d", tcpPort)
		}
		const n = 200
		got := map[string]int{}
		for i := 0; i < n; i++ {
			conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			msg := fmt.Sprintf("ping %d\n", i)
			io.WriteString(conn, msg)
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			name, echoed, ok := strings.Cut(line, ":")
			if err != nil || !ok || echoed != msg {
				t.Fatalf("connection %d: %q, %v", i, line, err)
			}
			got[name]++
		}
		sd := math.Sqrt(n * 0.25)
		for _, name := range []string{"tcp-a", "tcp-b"} {
			if d := math.Abs(float64(got[name]) - n/2); d > 5*sd {
				t.Errorf("%s got %d of %d connections, want %d ± %.0f", name, got[name], n, n/2, 5*sd)
			}
		}
		if ta.conns.Load()+tb.conns.Load() != n {
			t.Errorf("upstreams accepted %d connections, want %d", ta.conns.Load()+tb.conns.Load(), n)
		}
	})
}
