package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a TCP server whose handler writes exact bytes. It counts
// the connections it accepted.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

// newRawServer serves each connection with handle (n counts connections
// from 1); the connection is closed when handle returns.
func newRawServer(t *testing.T, handle func(c net.Conn, n int)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.conns.Add(1))
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c, n)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }
func (s *rawServer) url() string  { return "http://" + s.addr() }

// serveRequests reads requests off c and answers each with respond's
// bytes until respond returns keep false or the client goes away. Request
// bodies are read in full before respond is called.
func serveRequests(c net.Conn, respond func(req *http.Request, body []byte, i int) (out string, keep bool)) {
	br := bufio.NewReader(c)
	for i := 1; ; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		out, keep := respond(req, body, i)
		if _, err := io.WriteString(c, out); err != nil || !keep {
			return
		}
	}
}

// countConns returns an httptest server running h that counts new
// connections.
func countConns(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func newClient(t *testing.T) *Client {
	t.Helper()
	c := &Client{}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// get does a GET and returns the status and body.
func get(t *testing.T, c *Client, url string) (int, string) {
	t.Helper()
	resp, err := c.RoundTrip(newRequest(t, http.MethodGet, url, nil))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// poolCounts returns the idle and open connections to addr.
func poolCounts(c *Client, addr string) (idle, open int) {
	c.mu.Lock()
	hp := c.pools[addr]
	c.mu.Unlock()
	if hp == nil {
		return 0, 0
	}
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return len(hp.idle), hp.open
}

// waitFor polls cond for up to 2s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// withTimeout returns a context cancelled after d, and after the test.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
