package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// The proxy path alone: Forward with a plan like the seed mesh's
// llama-canary route (retries, per-try and per-request timeouts) against
// a minimal keep-alive HTTP/1.1 upstream on loopback, writing into a
// discarding ResponseWriter. ns/op includes the loopback round trip and
// the upstream's share; allocs/op is the proxy's.

var benchChat = []byte(`{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"Explain prefill and decode."}],"max_tokens":256}`)

// benchUpstream answers every request with a fixed response.
type benchUpstream struct {
	ln   net.Listener
	resp []byte
	wg   sync.WaitGroup
}

func startBenchUpstream(b *testing.B, resp []byte) *benchUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	u := &benchUpstream{ln: ln, resp: resp}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go u.serve(c)
		}
	}()
	b.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

func (u *benchUpstream) serve(c net.Conn) {
	defer u.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		cl := 0
		for first := true; ; first = false {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 && !first {
				break
			}
			if v, ok := strings.CutPrefix(strings.ToLower(string(line)), "content-length:"); ok {
				cl, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if _, err := br.Discard(cl); err != nil {
			return
		}
		if _, err := c.Write(u.resp); err != nil {
			return
		}
	}
}

func jsonResponse() []byte {
	body := `{"id":"chatcmpl-1","object":"chat.completion","model":"llama-3.1-8b-instruct","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("Prefill reads the prompt; decode writes tokens. ", 18) + `"},"finish_reason":"stop"}]}`
	return []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

func sseResponse(events int) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	ev := `data: {"choices":[{"index":0,"delta":{"content":"token"}}]}` + "\n\n"
	for i := 0; i < events; i++ {
		b.WriteString(strconv.FormatInt(int64(len(ev)), 16) + "\r\n" + ev + "\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// discardWriter is a ResponseWriter and Flusher that keeps nothing.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) Flush()                      {}

func benchTarget(b *testing.B, addr string) (*snapshot.Route, *snapshot.Target) {
	reg := discovery.NewRegistry(slog.New(slog.DiscardHandler))
	b.Cleanup(reg.Close)
	set := reg.Ensure(discovery.Key{Node: "llm-v1", Port: 9001}, discovery.Spec{Static: []string{addr}})
	t := &snapshot.Target{Node: &snapshot.Node{Name: "llm-v1"}, Port: 9001, Protocol: "http", Endpoints: set}
	rt := &snapshot.Route{
		Name: "llama-canary", Targets: []*snapshot.Target{t}, Fallback: []*snapshot.Target{t},
		Retry:      snapshot.RetryPolicy{MaxRetries: 2, PerTry: 30 * time.Second, GatewayError: true, ConnectionError: true},
		PerRequest: 600 * time.Second, Idle: 300 * time.Second,
	}
	return rt, t
}

func BenchmarkForward(b *testing.B) {
	for _, c := range []struct {
		name     string
		resp     []byte
		buffered bool // the gateway read the body for model routing
	}{
		{"json/buffered-body", jsonResponse(), true},
		{"json/streamed-body", jsonResponse(), false},
		{"sse-20-events", sseResponse(20), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			up := startBenchUpstream(b, c.resp)
			rt, t := benchTarget(b, up.ln.Addr().String())
			f := &proxy.Forwarder{Pools: proxy.NewPools(), Pick: proxy.RoundRobin, Log: slog.New(slog.DiscardHandler)}
			b.Cleanup(f.Pools.CloseIdle)
			w := &discardWriter{h: http.Header{}}
			rd := bytes.NewReader(benchChat)
			r := httptest.NewRequest(http.MethodPost, "http://ai-api-service.local/v1/chat/completions", io.NopCloser(rd))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("User-Agent", "OpenAI/Python 1.54.0")
			r.RemoteAddr = "127.0.0.1:50000"
			b.ReportAllocs()
			b.SetBytes(int64(len(benchChat)))
			for b.Loop() {
				clear(w.h)
				w.code, w.n = 0, 0
				rd.Reset(benchChat)
				p := proxy.Plan{Route: rt, Target: t, Host: "ai-api-service.local", Path: "/v1/chat/completions"}
				if c.buffered {
					p.Body = benchChat
				} else {
					r.ContentLength = int64(len(benchChat))
				}
				var res proxy.Result
				f.Forward(w, r, &p, &res)
				if res.Code != http.StatusOK || w.n == 0 {
					b.Fatalf("code %d, %d bytes, failure %q", res.Code, w.n, res.Failure)
				}
			}
		})
	}
}
