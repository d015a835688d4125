package h1

import (
	"io"
	"os"
	"testing"
	"time"
)

// TestDeadlineDuringHeaderWait: RoundTripDeadline gives up at its deadline
// with os.ErrDeadlineExceeded and leaves no connection behind.
func TestDeadlineDuringHeaderWait(t *testing.T) {
	s := stallServer(t, "")
	c := newClient(t)
	start := time.Now()
	_, err := c.RoundTripDeadline(newRequest(t, "GET", s.url(), nil), start.Add(100*time.Millisecond))
	checkPrompt(t, err, os.ErrDeadlineExceeded, start)
	if time.Since(start) < 90*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", time.Since(start))
	}
	if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
		t.Errorf("pool: %d idle, %d open; want none", idle, open)
	}
}

// TestDeadlineLiftedForPooledConn: a deadline that bounded one exchange
// does not follow its connection into the pool.
func TestDeadlineLiftedForPooledConn(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := newClient(t)
	for i := range 3 {
		resp, err := c.RoundTripDeadline(newRequest(t, "GET", s.url(), nil), time.Now().Add(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			SetReadLimits(resp.Body, 50*time.Millisecond, time.Now().Add(100*time.Millisecond))
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
			t.Fatalf("body %q, %v", b, err)
		}
		resp.Body.Close()
		time.Sleep(150 * time.Millisecond) // past both deadlines: the pooled connection must not carry them
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1 (the deadlines must not spoil the kept connection)", n)
	}
}

// TestReadLimits: SetReadLimits cuts a body whose upstream went quiet for
// longer than idle, and one that runs past its deadline even while bytes
// keep coming.
func TestReadLimits(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		s := stallServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		c := newClient(t)
		resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if !SetReadLimits(resp.Body, 100*time.Millisecond, time.Time{}) {
			t.Fatal("SetReadLimits refused an h1 body")
		}
		buf := make([]byte, 64)
		if n, err := resp.Body.Read(buf); err != nil || string(buf[:n]) != "first" {
			t.Fatalf("first read %q, %v", buf[:n], err)
		}
		start := time.Now()
		_, err = resp.Body.Read(buf)
		checkPrompt(t, err, os.ErrDeadlineExceeded, start)
		if idle, open := poolCounts(c, s.addr()); idle != 0 || open != 0 {
			t.Errorf("pool: %d idle, %d open; want none", idle, open)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		s := stallServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")
		c := newClient(t)
		resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		start := time.Now()
		SetReadLimits(resp.Body, time.Hour, start.Add(100*time.Millisecond))
		_, err = io.ReadAll(resp.Body)
		checkPrompt(t, err, os.ErrDeadlineExceeded, start)
	})
	if SetReadLimits(io.NopCloser(nil), time.Second, time.Time{}) {
		t.Error("SetReadLimits accepted a body that is not this package's")
	}
}

// TestDeadlineWhileWaitingForConn: with MaxConnsPerHost reached, a caller
// waits for a connection no longer than its deadline.
func TestDeadlineWhileWaitingForConn(t *testing.T) {
	s := stallServer(t, "")
	c := newClient(t)
	c.MaxConnsPerHost = 1
	go c.RoundTrip(newRequest(t, "GET", s.url(), nil)) // holds the only connection
	eventuallyOpen(t, c, s.addr(), 1)
	start := time.Now()
	_, err := c.RoundTripDeadline(newRequest(t, "GET", s.url(), nil), start.Add(100*time.Millisecond))
	checkPrompt(t, err, os.ErrDeadlineExceeded, start)
}

// eventuallyOpen waits (bounded) until the pool for addr has n open
// connections.
func eventuallyOpen(t *testing.T, c *Client, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, open := poolCounts(c, addr); open == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool never had %d open connections", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
