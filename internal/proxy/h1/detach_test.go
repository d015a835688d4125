package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestDetachSSE(t *testing.T) {
	more := make(chan struct{})
	s := newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
				chunk("data: one\n\n"))
			<-more
			return chunk("data: two\n\n") + chunk("data: [DONE]\n\n") + "0\r\n\r\n", true
		})
	})
	c := newClient(t)
	resp, err := c.RoundTrip(newRequest(t, "POST", s.url(), strings.NewReader(`{"stream":true}`)))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := Detach(resp.Body)
	if !ok {
		t.Fatal("Detach refused an unread chunked body")
	}
	defer d.Conn.Close()
	if d.Framing != FramingChunked {
		t.Errorf("Framing = %v, want chunked", d.Framing)
	}
	if _, open := poolCounts(c, s.addr()); open != 0 {
		t.Errorf("a detached connection still counts: %d open", open)
	}
	close(more)
	events, err := io.ReadAll(httputil.NewChunkedReader(io.MultiReader(bytes.NewReader(d.Buffered), bufio.NewReader(d.Conn))))
	if err != nil {
		t.Fatal(err)
	}
	if want := "data: one\n\ndata: two\n\ndata: [DONE]\n\n"; string(events) != want {
		t.Errorf("events %q, want %q", events, want)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Detach succeeded")
	}
	resp.Body.Close() // a no-op
	if _, ok := Detach(resp.Body); ok {
		t.Error("second Detach succeeded")
	}
}

func TestDetachLength(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
	c := newClient(t)
	resp, err := c.RoundTrip(newRequest(t, "GET", s.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 3)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	d, ok := Detach(resp.Body)
	if !ok {
		t.Fatal("Detach refused")
	}
	defer d.Conn.Close()
	if d.Framing != FramingLength || d.Remaining != 7 {
		t.Fatalf("Framing %v Remaining %d, want length 7", d.Framing, d.Remaining)
	}
	rest, err := io.ReadAll(io.LimitReader(io.MultiReader(bytes.NewReader(d.Buffered), d.Conn), d.Remaining))
	if err != nil || string(first)+string(rest) != "0123456789" {
		t.Errorf("body %q%q, %v", first, rest, err)
	}
}

func TestDetachRefused(t *testing.T) {
	if _, ok := Detach(io.NopCloser(strings.NewReader(""))); ok {
		t.Error("Detach accepted a foreign body")
	}
	s := rawResponse(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk("abcdef")+"0\r\n\r\n")
	resp, err := newClient(t).RoundTrip(newRequest(t, "GET", s.url(), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	resp.Body.Read(make([]byte, 2)) // in the middle of a chunk
	if _, ok := Detach(resp.Body); ok {
		t.Error("Detach accepted a body in the middle of a chunk")
	}
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }
