package fastlane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// wait bounds every wait of these tests for something that should happen
// at once (a response, a closed connection, a handler starting).
const wait = 5 * time.Second

// servedBy is the response header that tells which server answered.
const servedBy = "X-Served-By"

// testServer is a fast-lane Server on a loopback listener, with a real
// net/http Server behind it for the connections it hands off.
type testServer struct {
	t    *testing.T
	s    *Server
	addr string

	accepted atomic.Int64 // connections the fast lane's listener accepted
	handoffs atomic.Int64 // connections handed to net/http
	fastHits atomic.Int64 // requests the fast-lane handler saw
	stdHits  atomic.Int64 // requests the net/http handler saw

	std    *http.Server
	stdLn  *chanListener
	served chan error // what Serve returned
	logs   *syncBuffer
}

// startServer serves handler in the fast lane (each response carries
// "X-Served-By: fastlane") and hands the rest to a net/http Server that
// answers "X-Served-By: net/http" with an echo of the request (method,
// proto, path and body). configure, if any, adjusts the Server before it
// serves.
func startServer(t *testing.T, handler http.HandlerFunc, configure ...func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, addr: ln.Addr().String(), served: make(chan error, 1), logs: &syncBuffer{}}
	ts.stdLn = &chanListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: ln.Addr()}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	ts.std = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ts.stdHits.Add(1)
			body, _ := io.ReadAll(r.Body)
			w.Header().Set(servedBy, "net/http")
			io.WriteString(w, r.Method+" "+r.Proto+" "+r.URL.Path+" "+string(body))
		}),
		Protocols: &protos,
	}
	stdDone := make(chan struct{})
	go func() {
		defer close(stdDone)
		ts.std.Serve(ts.stdLn)
	}()
	ts.s = &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ts.fastHits.Add(1)
			w.Header().Set(servedBy, "fastlane")
			handler(w, r)
		}),
		HandOff: func(c net.Conn, ahead []byte) bool {
			ts.handoffs.Add(1)
			return ts.stdLn.give(c, ahead)
		},
		Log: slog.New(slog.NewTextHandler(ts.logs, nil)),
	}
	for _, f := range configure {
		f(ts.s)
	}
	go func() { ts.served <- ts.s.Serve(&countingListener{Listener: ln, n: &ts.accepted}) }()
	t.Cleanup(func() {
		ts.s.Close()
		select {
		case <-ts.served:
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
		ts.std.Close()
		select {
		case <-stdDone:
		case <-time.After(wait):
			t.Error("the net/http Server did not return after Close")
		}
	})
	return ts
}

// client is a net/http client of ts that uses a transport of its own.
func (ts *testServer) client() *http.Client {
	tr := &http.Transport{DisableCompression: true}
	ts.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: wait}
}

// url is the address of path on ts.
func (ts *testServer) url(path string) string { return "http://" + ts.addr + path }

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// chanListener is the net/http Server's listener: Accept returns the
// connections the fast lane hands off.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// give is the fast lane's HandOff: net/http serves c from its start, ahead
// first.
func (l *chanListener) give(c net.Conn, ahead []byte) bool {
	select {
	case l.conns <- WithAhead(c, ahead):
		return true
	case <-l.done:
		return false
	}
}

// syncBuffer is a log sink handlers of several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// rawConn is a raw TCP client: it writes bytes and reads responses.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// write sends s in one write.
func (rc *rawConn) write(s string) {
	rc.t.Helper()
	rc.c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// readResponse reads a response head to a request with the method.
func (rc *rawConn) readResponse(method string) *http.Response {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response to %s: %v", method, err)
	}
	return resp
}

// readAll reads a whole response (head and body) to a request with the
// method and returns it with its body.
func (rc *rawConn) readAll(method string) (*http.Response, string) {
	rc.t.Helper()
	resp := rc.readResponse(method)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("read body of response to %s: %v", method, err)
	}
	return resp, string(b)
}

// roundTrip sends req (whole, in one write) and reads its response.
func (rc *rawConn) roundTrip(req string) (*http.Response, string) {
	rc.t.Helper()
	rc.write(req)
	method, _, _ := strings.Cut(req, " ")
	return rc.readAll(method)
}

// expectClosed reads until the server closes the connection and returns
// what was still read. A reset counts as closed.
func (rc *rawConn) expectClosed() string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(rc.br)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		rc.t.Fatalf("the server did not close the connection: read %q, then %v", b, err)
	}
	return string(b)
}

// get is a plain fast-lane request to path.
func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n" }

// recv receives from ch, or fails the test after wait.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// ctxWait is a context that ends after wait.
func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// pattern is n deterministic bytes that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/251)%26)
	}
	return b
}
