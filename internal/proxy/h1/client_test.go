package h1

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-URI", r.RequestURI)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Len", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-UA", fmt.Sprint(r.Header["User-Agent"]))
		w.Header().Set("X-AE", fmt.Sprint(r.Header["Accept-Encoding"]))
		w.Header().Set("X-Custom", r.Header.Get("X-Custom"))
		if r.URL.Query().Get("chunked") != "" {
			// Flushing before the end makes net/http send chunks.
			w.WriteHeader(http.StatusCreated)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
			w.Write(body)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	c := newClient(t)

	tests := []struct {
		name       string
		method     string
		url        string
		rawPath    string
		body       io.Reader
		wantStatus int
		wantBody   string
		wantLen    string // Content-Length the server saw
		wantTE     string
		wantURI    string
		respLen    int64 // resp.ContentLength
	}{
		{name: "get", method: "GET", url: "/a?b=c", wantStatus: 200, wantLen: "0", wantURI: "/a?b=c", respLen: 0},
		{name: "post length", method: "POST", url: "/p", body: strings.NewReader("hello"), wantStatus: 200, wantBody: "hello", wantLen: "5", wantURI: "/p", respLen: 5},
		{name: "post empty", method: "POST", url: "/p", wantStatus: 200, wantLen: "0", wantURI: "/p", respLen: 0},
		{name: "chunked response", method: "POST", url: "/c?chunked=1", body: bytes.NewReader([]byte("tail")), wantStatus: 201, wantBody: "part0;part1;part2;tail", wantLen: "4", wantURI: "/c?chunked=1", respLen: -1},
		{name: "unknown length body", method: "PUT", url: "/u", body: io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")), wantStatus: 200, wantBody: "abcd", wantLen: "-1", wantTE: "chunked", wantURI: "/u", respLen: 4},
		{name: "raw path kept", method: "GET", url: "/x%2Fy/a%20b?q=%20", wantStatus: 200, wantLen: "0", wantURI: "/x%2Fy/a%20b?q=%20", respLen: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.method, srv.URL+tt.url, tt.body)
			req.Header.Set("X-Custom", "v1")
			resp, err := c.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			h := resp.Header
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if h.Get("X-Method") != tt.method || h.Get("X-URI") != tt.wantURI || h.Get("X-Len") != tt.wantLen || h.Get("X-TE") != tt.wantTE {
				t.Errorf("server saw %s %s len=%s te=%q", h.Get("X-Method"), h.Get("X-URI"), h.Get("X-Len"), h.Get("X-TE"))
			}
			if h.Get("X-Host") != srv.Listener.Addr().String() || h.Get("X-Custom") != "v1" {
				t.Errorf("server saw Host %q X-Custom %q", h.Get("X-Host"), h.Get("X-Custom"))
			}
			if h.Get("X-UA") != "[]" || h.Get("X-AE") != "[]" {
				t.Errorf("client added User-Agent %s or Accept-Encoding %s", h.Get("X-UA"), h.Get("X-AE"))
			}
			if resp.ContentLength != tt.respLen {
				t.Errorf("ContentLength = %d, want %d", resp.ContentLength, tt.respLen)
			}
			if resp.Proto != "HTTP/1.1" || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 || resp.Request != req {
				t.Errorf("Proto %q %d.%d, Request set %v", resp.Proto, resp.ProtoMajor, resp.ProtoMinor, resp.Request == req)
			}
			if want := fmt.Sprintf("%d %s", tt.wantStatus, http.StatusText(tt.wantStatus)); resp.Status != want {
				t.Errorf("Status = %q, want %q", resp.Status, want)
			}
		})
	}
}

func TestRequestLineAndHost(t *testing.T) {
	seen := make(chan *http.Request, 1)
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(req *http.Request, _ []byte, _ int) (string, bool) {
			seen <- req
			return "HTTP/1.1 204 No Content\r\n\r\n", false
		})
	})
	c := newClient(t)
	req := newRequest(t, "DELETE", s.url(), nil)
	req.URL = &url.URL{Scheme: "http", Host: s.addr(), Path: "/v1/a b/c/d", RawPath: "/v1/a%20b/c%2Fd", RawQuery: "x=1&y"}
	req.Host = "ai-api-service.local"
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-seen
	if got.RequestURI != "/v1/a%20b/c%2Fd?x=1&y" || got.Host != "ai-api-service.local" {
		t.Errorf("request line %q, Host %q", got.RequestURI, got.Host)
	}
	if _, ok := got.Header["Content-Length"]; ok {
		t.Errorf("DELETE without a body sent Content-Length")
	}
}

func TestLargeBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		}
		w.Write(b)
	}))
	defer srv.Close()
	c := newClient(t)
	payload := make([]byte, 2<<20)
	rand.Read(payload)

	for _, tt := range []struct {
		name string
		body func() io.Reader
		q    string
	}{
		{"in memory, length", func() io.Reader { return bytes.NewReader(payload) }, ""},
		{"streamed, length", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(payload)} }, ""},
		{"streamed, chunked both ways", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(payload)} }, "?chunked=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "POST", srv.URL+tt.q, tt.body())
			if tt.name == "streamed, length" {
				req.ContentLength = int64(len(payload))
			}
			resp, err := c.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echo of %d bytes differs (got %d bytes)", len(payload), len(got))
			}
		})
	}
}

func TestRequestTrailer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s", b, r.Trailer.Get("X-Checksum"))
	}))
	defer srv.Close()
	c := newClient(t)
	req := newRequest(t, "POST", srv.URL, struct{ io.Reader }{strings.NewReader("data")})
	req.Trailer = http.Header{"X-Checksum": {"abc"}}
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "data|abc" {
		t.Errorf("server saw %q, want data|abc", b)
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) {})
	c := newClient(t)
	for _, tt := range []struct {
		name string
		mod  func(r *http.Request)
	}{
		{"CRLF in value", func(r *http.Request) { r.Header.Set("X-A", "ok\r\nX-Evil: 1") }},
		{"LF in value", func(r *http.Request) { r.Header["X-A"] = []string{"ok\nX-Evil: 1"} }},
		{"bad name", func(r *http.Request) { r.Header["X-A\r\nX-Evil"] = []string{"1"} }},
		{"CRLF in Host", func(r *http.Request) { r.Host = "a\r\nX-Evil: 1" }},
		{"CRLF in query", func(r *http.Request) { r.URL.RawQuery = "a=1 HTTP/1.1\r\nX-Evil: 1" }},
		{"bad method", func(r *http.Request) { r.Method = "GET /x HTTP/1.1\r\n" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "GET", s.url(), nil)
			tt.mod(req)
			if _, err := c.RoundTrip(req); err == nil {
				t.Fatal("request sent")
			}
		})
	}
	if n := s.conns.Load(); n != 0 {
		t.Errorf("%d connections made for invalid requests", n)
	}
}

func TestDialErrorKeepsIdentity(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newClient(t).RoundTrip(newRequest(t, "GET", "http://"+addr+"/", nil))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want a dial *net.OpError wrapping ECONNREFUSED", err)
	}
}

func TestResetMidBody(t *testing.T) {
	s2 := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
			c.(*net.TCPConn).SetLinger(0)
			return "", false
		})
	})
	resp, err := newClient(t).RoundTrip(newRequest(t, "GET", s2.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want ECONNRESET or io.ErrUnexpectedEOF", err)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c := &Client{TLS: &tls.Config{RootCAs: pool}}
	defer c.CloseIdleConnections()
	for range 3 {
		resp, err := c.RoundTrip(newRequest(t, "GET", srv.URL, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/1.1 true" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("body %q, TLS %+v", b, resp.TLS)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TLS connections for 3 sequential requests, want 1", n)
	}
}

func TestEmptyBodies(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(req *http.Request, body []byte, _ int) (string, bool) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s cl=%v te=%v body=%q", req.Method, req.Header["Content-Length"], req.TransferEncoding, body))
			return "HTTP/1.1 204 No Content\r\n\r\n", true
		})
	})
	c := newClient(t)
	for _, tt := range []struct {
		method string
		body   io.ReadCloser
	}{
		{"POST", io.NopCloser(strings.NewReader(""))},
		{"PUT", http.NoBody},
		{"PATCH", nil},
		{"GET", io.NopCloser(bytes.NewReader(nil))},
		{"POST", io.NopCloser(new(bytes.Buffer))},
	} {
		req := newRequest(t, tt.method, s.url(), nil)
		req.Body = tt.body
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		resp.Body.Close()
	}
	want := []string{
		`POST cl=[0] te=[] body=""`,
		`PUT cl=[0] te=[] body=""`,
		`PATCH cl=[0] te=[] body=""`,
		`GET cl=[] te=[] body=""`,
		`POST cl=[0] te=[] body=""`,
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw\n%q\nwant\n%q", got, want)
	}
}

type failingReader struct{ n int }

var errClientGone = errors.New("client body failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errClientGone
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestRequestBodyFailure(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) { io.Copy(io.Discard, c) })
	c := newClient(t)
	for _, tt := range []struct {
		name   string
		length int64
		body   io.Reader
		want   error
	}{
		{"read error, chunked", -1, &failingReader{n: 100}, errClientGone},
		{"read error, length", 1000, &failingReader{n: 100}, errClientGone},
		{"short body", 1000, struct{ io.Reader }{strings.NewReader("short")}, io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "POST", s.url(), tt.body)
			req.ContentLength = tt.length
			req.GetBody = func() (io.ReadCloser, error) { t.Error("retried"); return nil, errors.New("no") }
			if _, err := c.RoundTrip(req); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if _, open := poolCounts(c, s.addr()); open != 0 {
				t.Errorf("%d connections open", open)
			}
		})
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"a:1": "a:1", "a": "a:80", "[::1]": "[::1]:80", "[::1]:8": "[::1]:8", "10.0.0.1": "10.0.0.1:80",
	} {
		if got := hostPort(in, false); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
	if got := hostPort("a", true); got != "a:443" {
		t.Errorf("hostPort(a, tls) = %q", got)
	}
}
