package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeepAliveReuse(t *testing.T) {
	srv, conns := countConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	c := newClient(t)
	for i := range 100 {
		if code, body := get(t, c, srv.URL+"/"+fmt.Sprint(i)); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 100 sequential requests, want 1", n)
	}
	if idle, open := poolCounts(c, srv.Listener.Addr().String()); idle != 1 || open != 1 {
		t.Errorf("pool: %d idle, %d open; want 1, 1", idle, open)
	}
}

func TestConnectionCloseNotReused(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false
		})
	})
	c := newClient(t)
	for range 3 {
		resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if !resp.Close {
			t.Error("resp.Close = false for Connection: close")
		}
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
	if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
		t.Errorf("pool: %d idle, %d open; want none", idle, open)
	}
}

func TestNoBodyResponses(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(req *http.Request, _ []byte, _ int) (string, bool) {
			switch req.URL.Path {
			case "/head":
				return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", true
			case "/204":
				return "HTTP/1.1 204 No Content\r\n\r\n", true
			case "/304":
				return "HTTP/1.1 304 Not Modified\r\nEtag: x\r\n\r\n", true
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true
		})
	})
	c := newClient(t)
	for _, tt := range []struct {
		method, path string
		code         int
		length       int64
	}{
		{"HEAD", "/head", 200, 1234},
		{"GET", "/204", 204, 0},
		{"GET", "/304", 304, 0},
		{"GET", "/empty", 200, 0},
	} {
		resp, err := c.RoundTrip(newRequest(t, tt.method, s.url()+tt.path, nil))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.code || resp.ContentLength != tt.length || resp.Body != http.NoBody {
			t.Errorf("%s %s: %d length %d body %T", tt.method, tt.path, resp.StatusCode, resp.ContentLength, resp.Body)
		}
		resp.Body.Close()
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: bodiless responses keep the connection", n)
	}
}

func TestEarlyCloseClosesConn(t *testing.T) {
	closed := make(chan struct{})
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 100), true
		})
		close(closed) // ReadRequest failed: the client closed the connection
	})
	c := newClient(t)
	resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("connection not closed after an early Body.Close")
	}
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
	if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
		t.Errorf("pool: %d idle, %d open; want none", idle, open)
	}
}

func TestCloseAbortsBlockedRead(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true // then stall
		})
	})
	c := newClient(t)
	resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("blocked Read returned no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a blocked Read")
	}
	if _, open := poolCounts(c, s.addr()); open != 0 {
		t.Errorf("%d connections open, want 0", open)
	}
}

func TestStaleIdleConn(t *testing.T) {
	for _, tt := range []struct {
		name   string
		handle func(c net.Conn, n int)
	}{
		// The upstream closes the idle connection: the liveness peek
		// finds it dead before it is used.
		{"closed while idle", func(c net.Conn, n int) {
			serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
				return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n), false
			})
		}},
		// The upstream closes once the next request arrives, without an
		// answer: retried on a new connection.
		{"closed on next request", func(c net.Conn, n int) {
			serveRequests(c, func(_ *http.Request, _ []byte, i int) (string, bool) {
				if i > 1 {
					return "", false
				}
				return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n), true
			})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newRawServer(t, tt.handle)
			c := newClient(t)
			if _, body := get(t, c, s.url()); body != "1" {
				t.Fatalf("first body %q", body)
			}
			waitFor(t, "an idle connection", func() bool { idle, _ := poolCounts(c, s.addr()); return idle == 1 })
			time.Sleep(20 * time.Millisecond) // let the close arrive
			if _, body := get(t, c, s.url()); body != "2" {
				t.Fatalf("second body %q, want it from connection 2", body)
			}
		})
	}
}

func TestRetryAfterResetOnReusedConn(t *testing.T) {
	var bodies sync.Map
	s := newRawServer(t, func(c net.Conn, n int) {
		br := bufio.NewReader(c)
		for i := 1; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if n == 1 && i == 2 {
				// Reset after the headers, before the body is read.
				c.(*net.TCPConn).SetLinger(0)
				return
			}
			body, _ := io.ReadAll(req.Body)
			bodies.Store(fmt.Sprint(n, "/", i), string(body))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	c := newClient(t)
	get(t, c, s.url())
	// A streamed body with GetBody: sent again on the new connection.
	payload := strings.Repeat("p", 100<<10)
	req := newRequest(t, "POST", s.url(), struct{ io.Reader }{strings.NewReader(payload)})
	req.ContentLength = int64(len(payload))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST not retried: %v", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, _ := bodies.Load("2/1"); got != payload {
		t.Errorf("retried body on connection 2: %d bytes, want %d", len(fmt.Sprint(got)), len(payload))
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestNoRetry(t *testing.T) {
	t.Run("after a response byte", func(t *testing.T) {
		s := newRawServer(t, func(c net.Conn, n int) {
			serveRequests(c, func(_ *http.Request, _ []byte, i int) (string, bool) {
				if i == 2 {
					return "HTTP/1.1 2", false
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true
			})
		})
		c := newClient(t)
		get(t, c, s.url())
		_, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%d connections: retried after a response byte", n)
		}
	})
	t.Run("body without GetBody", func(t *testing.T) {
		s := newRawServer(t, func(c net.Conn, n int) {
			serveRequests(c, func(_ *http.Request, _ []byte, i int) (string, bool) {
				if i == 2 {
					return "", false
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true
			})
		})
		c := newClient(t)
		get(t, c, s.url())
		req := newRequest(t, "POST", s.url(), struct{ io.Reader }{strings.NewReader("once")})
		if _, err := c.RoundTrip(req); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%d connections: a body that cannot be sent again was retried", n)
		}
	})
}

func TestMaxConnsPerHost(t *testing.T) {
	var cur, peak atomic.Int32
	srv, conns := countConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	c := &Client{MaxConnsPerHost: 1}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	start := time.Now()
	for range 2 {
		wg.Go(func() {
			resp, err := c.RoundTrip(newRequest(t, "GET", srv.URL, nil))
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if p, n := peak.Load(), conns.Load(); p != 1 || n != 1 {
		t.Errorf("peak concurrency %d over %d connections, want 1 and 1", p, n)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("two requests took %v: not serialised", d)
	}

	// A waiter gives up with its context.
	resp, err := c.RoundTrip(newRequest(t, "GET", srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	req := newRequest(t, "GET", srv.URL, nil).WithContext(withTimeout(t, 50*time.Millisecond))
	if _, err := c.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a slot: err = %v, want a deadline", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, conns := countConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := &Client{IdleTimeout: 50 * time.Millisecond}
	defer c.CloseIdleConnections()
	get(t, c, srv.URL)
	addr := srv.Listener.Addr().String()
	waitFor(t, "the janitor to close the idle connection", func() bool { idle, open := poolCounts(c, addr); return idle == 0 && open == 0 })
	waitFor(t, "the unused pool to go", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.pools[addr] == nil })
	get(t, c, srv.URL)
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the idle one expired)", n)
	}
}

func TestMaxIdlePerHost(t *testing.T) {
	srv, _ := countConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	c := &Client{MaxIdlePerHost: 2}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			resp, err := c.RoundTrip(newRequest(t, "GET", srv.URL, nil))
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if idle, open := poolCounts(c, srv.Listener.Addr().String()); idle != 2 || open != 2 {
		t.Errorf("pool: %d idle, %d open; want 2, 2", idle, open)
	}
}

// TestConcurrentAccounting mixes clean ends, early closes and
// cancellations from many goroutines under a connection cap, then checks
// that no slot leaked: every open connection is idle again.
func TestConcurrentAccounting(t *testing.T) {
	srv, _ := countConns(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, strings.Repeat("y", 8<<10))
	}))
	c := &Client{MaxConnsPerHost: 3}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				ctx, cancel := context.WithCancel(context.Background())
				url := srv.URL
				if (g+i)%5 == 0 {
					url += "?slow=1"
					time.AfterFunc(5*time.Millisecond, cancel)
				}
				resp, err := c.RoundTrip(newRequest(t, "GET", url, nil).WithContext(ctx))
				if err == nil {
					if i%3 == 0 {
						resp.Body.Read(make([]byte, 100)) // early close
					} else {
						io.ReadAll(resp.Body)
					}
					resp.Body.Close()
				} else if !errors.Is(err, context.Canceled) {
					t.Errorf("unexpected error: %v", err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	idle, open := poolCounts(c, srv.Listener.Addr().String())
	if open > 3 || idle != open {
		t.Errorf("pool: %d idle, %d open; want all open ones idle, at most 3", idle, open)
	}
}

func TestBufferedEndReleasesConn(t *testing.T) {
	t.Run("chunked: EOF with the last data", func(t *testing.T) {
		s := rawResponse(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		c := newClient(t)
		resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := resp.Body.Read(buf)
		if string(buf[:n]) != "hello" || err != io.EOF {
			t.Fatalf("Read = %q, %v; want hello, EOF", buf[:n], err)
		}
		if idle, _ := poolCounts(c, s.addr()); idle != 1 {
			t.Errorf("%d idle connections before Close, want 1", idle)
		}
		resp.Body.Close()
	})
	t.Run("close with the rest buffered", func(t *testing.T) {
		s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		c := newClient(t)
		for range 3 {
			resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
			if err != nil {
				t.Fatal(err)
			}
			if n := resp.Body.(*body).br.Buffered(); n != 5 {
				t.Skipf("the body did not arrive with the head (%d bytes buffered)", n)
			}
			resp.Body.Close()
		}
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

// TestConcurrentReuse: concurrent callers share kept-alive connections;
// the pool grows to the concurrency, not to the number of requests.
func TestConcurrentReuse(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := newClient(t)
	const workers, each = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, err := c.RoundTrip(newRequest(t, "POST", s.url(), strings.NewReader("{}")))
				if err != nil {
					t.Error(err)
					return
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := s.conns.Load(); n > workers {
		t.Errorf("%d connections for %d requests from %d callers, want at most %d", n, workers*each, workers, workers)
	}
}
