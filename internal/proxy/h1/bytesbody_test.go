package h1

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// A BytesBody is sent as an in-memory body (Content-Length, never
// chunked, even with req.ContentLength unset), and one value serves
// request after request once Reset.
func TestBytesBodyReused(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(req *http.Request, body []byte, _ int) (string, bool) {
			mu.Lock()
			got = append(got, fmt.Sprintf("cl=%v te=%v body=%q", req.Header["Content-Length"], req.TransferEncoding, body))
			mu.Unlock()
			return "HTTP/1.1 204 No Content\r\n\r\n", true
		})
	})
	c := newClient(t)
	var body BytesBody
	for _, b := range []string{"first", "the second one", ""} {
		body.Reset([]byte(b))
		req := newRequest(t, "POST", s.url(), nil)
		req.Body = &body
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{`cl=[5] te=[] body="first"`, `cl=[14] te=[] body="the second one"`, `cl=[0] te=[] body=""`}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw\n%q\nwant\n%q", got, want)
	}
}

// A BytesBody too large to go out with the head is sent again on a new
// connection, through GetBody resetting the same value, when the reused
// connection turns out closed.
func TestBytesBodyResentThroughGetBody(t *testing.T) {
	payload := []byte(strings.Repeat("0123456789abcdef", 2*inlineMax/16))
	var (
		mu  sync.Mutex
		got []string
	)
	s := newRawServer(t, func(c net.Conn, n int) {
		serveRequests(c, func(req *http.Request, body []byte, i int) (string, bool) {
			mu.Lock()
			got = append(got, fmt.Sprintf("conn %d: %d bytes, intact %v", n, len(body), bytes.Equal(body, payload)))
			mu.Unlock()
			if n == 1 && i == 2 {
				return "", false // gone without an answer, like a keep-alive timeout
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
		})
	})
	c := newClient(t)
	var body BytesBody
	for range 2 {
		body.Reset(payload)
		req := newRequest(t, "POST", s.url(), nil)
		req.Body = &body
		req.GetBody = func() (io.ReadCloser, error) { body.Reset(payload); return &body, nil }
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
		resp.Body.Close()
	}
	want := []string{"conn 1: 32768 bytes, intact true", "conn 1: 32768 bytes, intact true", "conn 2: 32768 bytes, intact true"}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw\n%q\nwant\n%q", got, want)
	}
}

// Recycle hands a response's header map to the next response: that one
// carries only its own fields, and the values copied out of the first
// stay as they were.
func TestRecycleHeader(t *testing.T) {
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(_ *http.Request, _ []byte, i int) (string, bool) {
			if i == 1 {
				return "HTTP/1.1 200 OK\r\nX-First: one\r\nX-Both: a\r\nContent-Length: 0\r\n\r\n", true
			}
			return "HTTP/1.1 200 OK\r\nX-Both: b\r\nContent-Length: 0\r\n\r\n", true
		})
	})
	c := newClient(t)
	resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	copied := http.Header{}
	for k, v := range resp.Header {
		copied[k] = v // what a proxy does: the value slices are shared
	}
	Recycle(resp)
	if resp.Header != nil {
		t.Fatalf("resp.Header = %v after Recycle, want nil", resp.Header)
	}
	for range 3 {
		resp, err = c.RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := fmt.Sprint(resp.Header); got != "map[Content-Length:[0] X-Both:[b]]" {
			t.Fatalf("second response header %s", got)
		}
		Recycle(resp)
	}
	if got := fmt.Sprint(copied); got != "map[Content-Length:[0] X-Both:[a] X-First:[one]]" {
		t.Fatalf("values copied from the first response now %s", got)
	}
}
