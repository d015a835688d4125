package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

var errCustomCause = errors.New("client went away")

// stallServer reads one request per connection and then waits for the
// client to go, after writing prefix.
func stallServer(t *testing.T, prefix string) *rawServer {
	return newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) { return prefix, true })
	})
}

// checkPrompt fails when err does not wrap want or came later than 1s
// after start.
func checkPrompt(t *testing.T, err, want error, start time.Time) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("err = %v, want it to wrap %v", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestContextDuringDial(t *testing.T) {
	t.Run("TLS handshake", func(t *testing.T) {
		s := newRawServer(t, func(c net.Conn, _ int) { io.Copy(io.Discard, c) }) // never answers the hello
		c := &Client{TLS: &tls.Config{InsecureSkipVerify: true}}
		start := time.Now()
		req := newRequest(t, "GET", s.url(), nil).WithContext(withTimeout(t, 100*time.Millisecond))
		_, err := c.RoundTrip(req)
		checkPrompt(t, err, context.DeadlineExceeded, start)
		if _, open := poolCounts(c, s.addr()); open != 0 {
			t.Errorf("%d connections open", open)
		}
	})
	t.Run("connect", func(t *testing.T) {
		addr := fullBacklog(t) // SYNs are dropped: connect hangs
		c := &Client{}
		start := time.Now()
		req := newRequest(t, "GET", "http://"+addr+"/", nil).WithContext(withTimeout(t, 100*time.Millisecond))
		_, err := c.RoundTrip(req)
		checkPrompt(t, err, context.DeadlineExceeded, start)
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("err = %v, want it to wrap the dial *net.OpError too", err)
		}
		if _, open := poolCounts(c, addr); open != 0 {
			t.Errorf("%d connections open", open)
		}
	})
}

func TestContextDuringHeaderWait(t *testing.T) {
	s := stallServer(t, "")
	c := newClient(t)
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		req := newRequest(t, "GET", s.url(), nil).WithContext(withTimeout(t, 100*time.Millisecond))
		_, err := c.RoundTrip(req)
		checkPrompt(t, err, context.DeadlineExceeded, start)
	})
	t.Run("custom cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(100*time.Millisecond, func() { cancel(errCustomCause) })
		start := time.Now()
		_, err := c.RoundTrip(newRequest(t, "POST", s.url(), nil).WithContext(ctx))
		checkPrompt(t, err, errCustomCause, start)
	})
	if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
		t.Errorf("pool: %d idle, %d open; want none", idle, open)
	}
}

func TestContextDuringBodyRead(t *testing.T) {
	s := stallServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
	c := newClient(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if n, err := resp.Body.Read(buf); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	time.AfterFunc(100*time.Millisecond, func() { cancel(errCustomCause) })
	start := time.Now()
	_, err = resp.Body.Read(buf)
	checkPrompt(t, err, errCustomCause, start)
	if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
		t.Errorf("pool: %d idle, %d open; want none", idle, open)
	}
}

func TestContextEndAfterBodyKeepsConn(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := newClient(t)
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil).WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel() // the exchange is over: this must not poison the pooled connection
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestContextAlreadyDone(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errCustomCause)
	_, err := newClient(t).RoundTrip(newRequest(t, "GET", s.url(), nil).WithContext(ctx))
	if !errors.Is(err, errCustomCause) {
		t.Errorf("err = %v, want the cause", err)
	}
	if n := s.conns.Load(); n != 0 {
		t.Errorf("%d connections for a cancelled request", n)
	}
}
