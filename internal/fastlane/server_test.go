package fastlane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/hangup"
)

// echoPath answers the request's path, then its body.
func echoPath(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	io.WriteString(w, r.URL.Path+string(body))
}

func TestKeepAliveSequential(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]int{}
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		echoPath(w, r)
	})
	rc := dialRaw(t, ts.addr)
	for i := range 100 {
		path := "/req/" + strconv.Itoa(i)
		resp, body := rc.roundTrip(get(path))
		if resp.StatusCode != 200 || body != path || resp.Close {
			t.Fatalf("request %d: %s close=%v body %q", i, resp.Status, resp.Close, body)
		}
		if got := resp.Header.Get(servedBy); got != "fastlane" {
			t.Fatalf("request %d answered by %q", i, got)
		}
	}
	if n := ts.accepted.Load(); n != 1 {
		t.Errorf("the server accepted %d connections, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Errorf("handlers saw %d client addresses, want 1: %v", len(remotes), remotes)
	}
	if n := ts.handoffs.Load(); n != 0 {
		t.Errorf("%d hand-offs, want none", n)
	}
}

func TestPipelined(t *testing.T) {
	ts := startServer(t, echoPath)
	rc := dialRaw(t, ts.addr)
	rc.write(get("/a") +
		"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nxyz" +
		get("/c"))
	for _, want := range []string{"/a", "/bxyz", "/c"} {
		_, body := rc.readAll("GET")
		if body != want {
			t.Fatalf("got %q, want %q (responses out of order or mixed up)", body, want)
		}
	}
	if n := ts.accepted.Load(); n != 1 {
		t.Errorf("the server accepted %d connections, want 1", n)
	}
}

func TestSmallResponse(t *testing.T) {
	const fixedDate = "Mon, 02 Jan 2006 15:04:05 GMT"
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello, ")
			io.WriteString(w, "world")
		case "/date":
			w.Header().Set("Date", fixedDate)
			io.WriteString(w, "dated")
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/odd":
			w.WriteHeader(599)
		default:
			http.NotFound(w, r)
		}
	})
	rc := dialRaw(t, ts.addr)

	before := time.Now().Add(-time.Second)
	resp, body := rc.roundTrip(get("/hello"))
	if resp.Status != "200 OK" || body != "hello, world" {
		t.Fatalf("got %q %q", resp.Status, body)
	}
	if resp.ContentLength != 12 || resp.Header.Get("Content-Length") != "12" || resp.TransferEncoding != nil {
		t.Errorf("framing: ContentLength %d, Content-Length %q, Transfer-Encoding %v; want 12 by length",
			resp.ContentLength, resp.Header.Get("Content-Length"), resp.TransferEncoding)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type %q", got)
	}
	if d := resp.Header.Values("Date"); len(d) != 1 {
		t.Errorf("Date fields %q, want one", d)
	} else if dt, err := http.ParseTime(d[0]); err != nil || dt.Before(before.Truncate(time.Second)) || dt.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q (%v) is not now", d[0], err)
	}

	resp, body = rc.roundTrip(get("/date"))
	if d := resp.Header.Values("Date"); len(d) != 1 || d[0] != fixedDate || body != "dated" {
		t.Errorf("the handler's Date: got %q, body %q", d, body)
	}

	for _, c := range []struct{ path, status, body string }{
		{"/missing", "404 Not Found", "404 page not found\n"},
		{"/teapot", "418 I'm a teapot", ""},
		{"/odd", "599 status code 599", ""},
	} {
		resp, body = rc.roundTrip(get(c.path))
		if resp.Status != c.status || body != c.body || resp.ContentLength != int64(len(c.body)) {
			t.Errorf("%s: got %q %q (length %d), want %q %q", c.path, resp.Status, body, resp.ContentLength, c.status, c.body)
		}
		if resp.Header.Get(servedBy) != "fastlane" {
			t.Errorf("%s: answered by %q", c.path, resp.Header.Get(servedBy))
		}
	}
}

func TestStreamingFlushAndTrailers(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			echoPath(w, r)
			return
		}
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second")
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set(http.TrailerPrefix+"X-Late", "undeclared")
	})
	rc := dialRaw(t, ts.addr)
	rc.write(get("/stream"))
	resp := rc.readResponse("GET")
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
		t.Fatalf("framing: Transfer-Encoding %v, ContentLength %d; want chunked", resp.TransferEncoding, resp.ContentLength)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("before the handler went on, read %q, %v: the flush did not send the first chunk", first, err)
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest of the body: %q, %v", rest, err)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
		t.Errorf("declared trailer X-Checksum = %q, want abc123 (trailers %v)", got, resp.Trailer)
	}
	if got := resp.Trailer.Get("X-Late"); got != "undeclared" {
		t.Errorf("TrailerPrefix trailer X-Late = %q, want undeclared (trailers %v)", got, resp.Trailer)
	}
	if got := resp.Header.Get("X-Checksum"); got != "" {
		t.Errorf("the trailer is in the head too: %q", got)
	}
	// The framing ended where it should: the connection serves on.
	if _, body := rc.roundTrip(get("/after")); body != "/after" {
		t.Errorf("next request: %q", body)
	}
}

// writeInPieces writes b in pieces of varied sizes, some below and some
// above the response buffer, and reports the first error.
func writeInPieces(w io.Writer, b []byte) error {
	sizes := []int{1, 100, 3000, 5000, 70000, 4096, 10}
	for i := 0; len(b) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(b))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func TestLargeBody(t *testing.T) {
	big := pattern(200 << 10)
	errs := make(chan error, 10)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		case "/chunked":
		default:
			echoPath(w, r)
			return
		}
		errs <- writeInPieces(w, big)
	})
	rc := dialRaw(t, ts.addr)

	resp, body := rc.roundTrip(get("/chunked"))
	if err := recv(t, errs, "the handler"); err != nil {
		t.Fatalf("handler write: %v", err)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("without Content-Length: Transfer-Encoding %v, Content-Length %q; want chunked",
			resp.TransferEncoding, resp.Header.Get("Content-Length"))
	}
	if body != string(big) {
		t.Errorf("chunked body: %d bytes, differs from the %d written", len(body), len(big))
	}

	resp, body = rc.roundTrip(get("/length"))
	if err := recv(t, errs, "the handler"); err != nil {
		t.Fatalf("handler write: %v", err)
	}
	if resp.TransferEncoding != nil || resp.ContentLength != int64(len(big)) {
		t.Errorf("with Content-Length: Transfer-Encoding %v, ContentLength %d; want framed by length %d",
			resp.TransferEncoding, resp.ContentLength, len(big))
	}
	if body != string(big) {
		t.Errorf("body by length: %d bytes, differs from the %d written", len(body), len(big))
	}
	if _, body := rc.roundTrip(get("/after")); body != "/after" {
		t.Errorf("next request: %q", body)
	}
}

func TestContentLengthMismatch(t *testing.T) {
	type result struct{ errs []error }
	results := make(chan result, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		var res result
		write := func(p []byte) {
			_, err := w.Write(p)
			res.errs = append(res.errs, err)
		}
		switch r.URL.Path {
		case "/over":
			w.Header().Set("Content-Length", "10")
			write(pattern(20)) // more than declared at once
			write(pattern(10))
			write([]byte("!")) // one more than declared
		case "/under":
			w.Header().Set("Content-Length", "10")
			write(pattern(5))
		case "/under-big":
			w.Header().Set("Content-Length", strconv.Itoa(200<<10))
			write(pattern(100 << 10))
		default:
			echoPath(w, r)
			return
		}
		results <- res
	})

	t.Run("over", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip(get("/over"))
		res := recv(t, results, "the handler")
		if len(res.errs) != 3 || !errors.Is(res.errs[0], http.ErrContentLength) || res.errs[1] != nil || !errors.Is(res.errs[2], http.ErrContentLength) {
			t.Errorf("Write errors %v, want [ErrContentLength <nil> ErrContentLength]", res.errs)
		}
		if resp.ContentLength != 10 || body != string(pattern(10)) {
			t.Errorf("got %d bytes %q (ContentLength %d)", len(body), body, resp.ContentLength)
		}
		if _, body := rc.roundTrip(get("/after")); body != "/after" {
			t.Errorf("next request: %q", body)
		}
	})

	for _, path := range []string{"/under", "/under-big"} {
		t.Run(path[1:], func(t *testing.T) {
			rc := dialRaw(t, ts.addr)
			rc.write(get(path))
			resp := rc.readResponse("GET")
			body, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading a short body: %d bytes, %v; want io.ErrUnexpectedEOF", len(body), err)
			}
			if res := recv(t, results, "the handler"); len(res.errs) != 1 || res.errs[0] != nil {
				t.Errorf("Write errors %v", res.errs)
			}
			if rest := rc.expectClosed(); rest != "" {
				t.Errorf("after the short body: %q", rest)
			}
		})
	}
}

func TestHead(t *testing.T) {
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			writeInPieces(w, pattern(10<<10))
		case "/flushed":
			io.WriteString(w, "flushed")
			w.(http.Flusher).Flush()
			io.WriteString(w, " and more")
		default:
			io.WriteString(w, "hello")
		}
	})
	rc := dialRaw(t, ts.addr)
	for _, c := range []struct {
		path   string
		length string
		get    string
	}{
		{"/small", "5", "hello"},
		{"/big", strconv.Itoa(10 << 10), string(pattern(10 << 10))},
		{"/flushed", "", "flushed and more"},
	} {
		// The HEAD response is followed by a GET on the same connection: a
		// body byte on the wire would be read as the next status line.
		rc.write("HEAD " + c.path + " HTTP/1.1\r\nHost: example.com\r\n\r\n")
		resp, body := rc.readAll("HEAD")
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != c.length {
			t.Errorf("HEAD %s: %s, Content-Length %q (want %q), body %q", c.path, resp.Status, resp.Header.Get("Content-Length"), c.length, body)
		}
		if resp.TransferEncoding != nil {
			t.Errorf("HEAD %s: Transfer-Encoding %v", c.path, resp.TransferEncoding)
		}
		if _, body := rc.roundTrip(get(c.path)); body != c.get {
			t.Fatalf("GET %s after HEAD: %d bytes %.40q", c.path, len(body), body)
		}
	}
}

func TestBodylessStatus(t *testing.T) {
	writeErrs := make(chan error, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			echoPath(w, r)
			return
		}
		w.Header().Set("Content-Length", "4") // must not go out
		w.WriteHeader(code)
		_, err = io.WriteString(w, "body")
		writeErrs <- err
	})
	rc := dialRaw(t, ts.addr)
	for _, code := range []int{204, 304} {
		rc.write(get("/" + strconv.Itoa(code)))
		resp, body := rc.readAll("GET")
		if err := recv(t, writeErrs, "the handler"); !errors.Is(err, http.ErrBodyNotAllowed) {
			t.Errorf("%d: Write returned %v, want http.ErrBodyNotAllowed", code, err)
		}
		if resp.StatusCode != code || body != "" || resp.TransferEncoding != nil {
			t.Errorf("%d: got %s, body %q, Transfer-Encoding %v", code, resp.Status, body, resp.TransferEncoding)
		}
		if v, ok := resp.Header["Content-Length"]; ok && code == 204 {
			t.Errorf("204 with Content-Length %q", v)
		}
		if _, body := rc.roundTrip(get("/after")); body != "/after" {
			t.Fatalf("%d: next request: %q", code, body)
		}
	}
}

func TestRequestBodyInPieces(t *testing.T) {
	const size, piece = 1 << 20, 64 << 10
	var progress atomic.Int64
	progressed := make(chan struct{}, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			h.Write(buf[:n])
			progress.Add(int64(n))
			select {
			case progressed <- struct{}{}:
			default:
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
	})
	body := pattern(size)
	sum := sha256.Sum256(body)
	rc := dialRaw(t, ts.addr)
	rc.write("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
	// Each piece goes out once the handler has read all before it: the
	// body arrives in pieces, the handler waiting on the socket between.
	for off := 0; off < size; off += piece {
		rc.write(string(body[off : off+piece]))
		deadline := time.After(wait)
		for progress.Load() < int64(off+piece) {
			select {
			case <-progressed:
			case <-deadline:
				t.Fatalf("the handler read %d bytes of the %d sent", progress.Load(), off+piece)
			}
		}
	}
	resp, got := rc.readAll("POST")
	if resp.StatusCode != 200 || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %s %q, want the body's sha256", resp.Status, got)
	}
	empty := sha256.Sum256(nil)
	if _, body := rc.roundTrip(get("/after")); body != hex.EncodeToString(empty[:]) {
		t.Errorf("next request: %q", body)
	}
}

func TestUnreadRequestBody(t *testing.T) {
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ignored "+r.URL.Path) // the body is not read
	})

	t.Run("small", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip("POST /small HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n0123456789")
		if body != "ignored /small" || resp.Close {
			t.Fatalf("got %q, close %v", body, resp.Close)
		}
		resp, body = rc.roundTrip(get("/next"))
		if body != "ignored /next" || resp.Close {
			t.Fatalf("the next request on the connection: %q, close %v", body, resp.Close)
		}
	})

	t.Run("pipelined", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		rc.write("POST /small HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n0123456789" + get("/next"))
		for _, want := range []string{"ignored /small", "ignored /next"} {
			if _, body := rc.readAll("GET"); body != want {
				t.Fatalf("got %q, want %q", body, want)
			}
		}
	})

	t.Run("large still arriving", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		rc.write("POST /large HTTP/1.1\r\nHost: example.com\r\nContent-Length: " + strconv.Itoa(1<<20) + "\r\n\r\n")
		rc.write(string(pattern(64 << 10)))
		resp, body := rc.readAll("POST")
		if body != "ignored /large" {
			t.Fatalf("got %q", body)
		}
		if !resp.Close { // http.ReadResponse sets Close for "Connection: close" and drops the field
			t.Errorf("the response does not say Connection: close")
		}
		if rest := rc.expectClosed(); rest != "" {
			t.Errorf("after the response: %q", rest)
		}
	})
}

func TestClientConnectionClose(t *testing.T) {
	ts := startServer(t, echoPath)
	rc := dialRaw(t, ts.addr)
	resp, body := rc.roundTrip("GET /bye HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	if body != "/bye" || !resp.Close {
		t.Errorf("got %q, Connection: close %v", body, resp.Close)
	}
	if rest := rc.expectClosed(); rest != "" {
		t.Errorf("after the response: %q", rest)
	}
}

func TestHandOff(t *testing.T) {
	ts := startServer(t, echoPath)
	expectStd := func(t *testing.T, resp *http.Response, body, want string) {
		t.Helper()
		if got := resp.Header.Get(servedBy); got != "net/http" {
			t.Errorf("answered by %q, want net/http (%s %q)", got, resp.Status, body)
		}
		if body != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}

	t.Run("expect 100-continue", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		rc.write("POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		if resp := rc.readResponse("POST"); resp.StatusCode != http.StatusContinue {
			t.Fatalf("got %s, want 100 Continue", resp.Status)
		}
		rc.write("hello")
		resp, body := rc.readAll("POST")
		expectStd(t, resp, body, "POST HTTP/1.1 /up hello")
	})

	t.Run("chunked request body", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip("POST /up HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		expectStd(t, resp, body, "POST HTTP/1.1 /up hello world")
	})

	t.Run("bare LF line ends", func(t *testing.T) {
		// Not a whole head to the fast lane ever: it must go to net/http
		// at once, not wait for ReadHeaderTimeout.
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip("GET /lf HTTP/1.1\nHost: example.com\n\n")
		expectStd(t, resp, body, "GET HTTP/1.1 /lf ")
	})

	t.Run("HTTP/1.0", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip("GET /old HTTP/1.0\r\nHost: example.com\r\n\r\n")
		expectStd(t, resp, body, "GET HTTP/1.0 /old ")
	})

	t.Run("h2c prior knowledge", func(t *testing.T) {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &protos}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: wait}
		for i := range 3 {
			resp, err := c.Post(ts.url("/h2"), "text/plain", strings.NewReader("x"+strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("response proto %s, want HTTP/2", resp.Proto)
			}
			expectStd(t, resp, string(body), "POST HTTP/2.0 /h2 x"+strconv.Itoa(i))
		}
	})

	t.Run("head over 4 KiB after a fast-lane request", func(t *testing.T) {
		before := ts.accepted.Load()
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip(get("/first"))
		if resp.Header.Get(servedBy) != "fastlane" || body != "/first" {
			t.Fatalf("first request: answered by %q, body %q; want the fast lane", resp.Header.Get(servedBy), body)
		}
		big := "GET /big HTTP/1.1\r\nHost: example.com\r\nX-Big: " + strings.Repeat("b", 6<<10) + "\r\n\r\n"
		resp, body = rc.roundTrip(big)
		expectStd(t, resp, body, "GET HTTP/1.1 /big ")
		// net/http has the connection now: it answers what follows.
		resp, body = rc.roundTrip(get("/third"))
		expectStd(t, resp, body, "GET HTTP/1.1 /third ")
		if n := ts.accepted.Load() - before; n != 1 {
			t.Errorf("%d connections accepted, want 1", n)
		}
	})

	t.Run("head over 4 KiB pipelined after a fast-lane request", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		rc.write(get("/first") + "GET /big HTTP/1.1\r\nHost: example.com\r\nX-Big: " + strings.Repeat("b", 6<<10) + "\r\n\r\n")
		resp, body := rc.readAll("GET")
		if resp.Header.Get(servedBy) != "fastlane" || body != "/first" {
			t.Fatalf("first request: answered by %q, body %q; want the fast lane", resp.Header.Get(servedBy), body)
		}
		resp, body = rc.readAll("GET")
		expectStd(t, resp, body, "GET HTTP/1.1 /big ")
	})

	t.Run("malformed head", func(t *testing.T) {
		fast, std := ts.fastHits.Load(), ts.stdHits.Load()
		rc := dialRaw(t, ts.addr)
		resp, body := rc.roundTrip("GET /bad HTTP/1.1\r\nHost: example.com\r\nBad : space\r\n\r\n")
		if resp.StatusCode != 400 || !strings.HasPrefix(body, "400 Bad Request") {
			t.Errorf("got %s %q, want net/http's 400 Bad Request", resp.Status, body)
		}
		if ts.fastHits.Load() != fast || ts.stdHits.Load() != std {
			t.Errorf("a handler saw the malformed request")
		}
		rc.expectClosed()
	})

	// Each connection above went to net/http once (h2c's requests share
	// one connection).
	if n := ts.handoffs.Load(); n != 8 {
		t.Errorf("%d hand-offs, want 8", n)
	}
}

func TestHandlerPanic(t *testing.T) {
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			io.WriteString(w, "partial")
			panic("boom")
		case "/abort":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		echoPath(w, r)
	})
	rc := dialRaw(t, ts.addr)
	rc.write(get("/panic"))
	if got := rc.expectClosed(); got != "" {
		t.Errorf("after a panic the client read %q, want nothing", got)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "handler panicked") || !strings.Contains(logs, "boom") {
		t.Errorf("no log line for the panic: %q", logs)
	}
	// The server serves on.
	if _, body := dialRaw(t, ts.addr).roundTrip(get("/ok")); body != "/ok" {
		t.Errorf("another connection after the panic: %q", body)
	}

	rc = dialRaw(t, ts.addr)
	rc.write(get("/abort"))
	resp := rc.readResponse("GET")
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a flushed response aborted: reading its body got %v, want io.ErrUnexpectedEOF", err)
	}
	if now := ts.logs.String(); now != logs {
		t.Errorf("panic(http.ErrAbortHandler) logged: %q", strings.TrimPrefix(now, logs))
	}
	if _, body := dialRaw(t, ts.addr).roundTrip(get("/ok")); body != "/ok" {
		t.Errorf("another connection after the abort: %q", body)
	}
}

func TestHijack(t *testing.T) {
	hijacked := make(chan error, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hijack" {
			echoPath(w, r)
			return
		}
		w.Header().Set("X-Dropped", "not sent") // the hijacker answers itself
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			hijacked <- err
			return
		}
		defer nc.Close()
		buffered := brw.Reader.Buffered()
		extra := make([]byte, len("PIPELINED"))
		if _, err := io.ReadFull(brw, extra); err != nil {
			hijacked <- err
			return
		}
		body := fmt.Sprintf("buffered=%d extra=%s", buffered, extra)
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Hijacker: yes\r\n\r\n%s", len(body), body)
		hijacked <- brw.Flush()
		// The connection is the handler's: more requests come here.
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(line), line)
	})
	rc := dialRaw(t, ts.addr)
	rc.write(get("/hijack") + "PIPELINED")
	resp, body := rc.readAll("GET")
	if err := recv(t, hijacked, "the hijacker"); err != nil {
		t.Fatal(err)
	}
	if body != "buffered=9 extra=PIPELINED" || resp.Header.Get("X-Hijacker") != "yes" {
		t.Errorf("got %q, X-Hijacker %q", body, resp.Header.Get("X-Hijacker"))
	}
	if resp.Header.Get("X-Dropped") != "" || resp.Header.Get(servedBy) != "" || resp.Header.Get("Date") != "" {
		t.Errorf("the fast lane wrote a head for the hijacked response: %v", resp.Header)
	}
	// What follows goes to the hijacker, not to the fast lane's loop.
	_, body = rc.roundTrip("anything\n")
	if body != "anything\n" {
		t.Errorf("after the hijack: %q", body)
	}
	// A hijacked connection is not the server's: Shutdown does not wait.
	if err := ts.s.Shutdown(ctxWait(t)); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		echoPath(w, r)
	})
	idle := dialRaw(t, ts.addr)
	if _, body := idle.roundTrip(get("/idle")); body != "/idle" {
		t.Fatalf("idle connection: %q", body)
	}
	busy := dialRaw(t, ts.addr)
	busy.write(get("/slow"))
	recv(t, entered, "the slow handler")

	shut := make(chan error, 1)
	go func() { shut <- ts.s.Shutdown(ctxWait(t)) }()

	if rest := idle.expectClosed(); rest != "" {
		t.Errorf("the idle connection read %q before it closed", rest)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request ran", err)
	default:
	}
	close(release)
	resp, body := busy.readAll("GET")
	if body != "/slow" || !resp.Close {
		t.Errorf("the running request: %q, Connection: close %v; want Connection: close", body, resp.Close)
	}
	busy.expectClosed()
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := recv(t, ts.served, "Serve"); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	ts.served <- http.ErrServerClosed // for the cleanup

	// A connection that comes after Shutdown is not taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if ts.s.ServeConn(sc, []byte(get("/late"))) {
		t.Error("ServeConn after Shutdown took the connection")
	}
}

func TestShutdownContextEnds(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	busy := dialRaw(t, ts.addr)
	busy.write(get("/slow"))
	recv(t, entered, "the handler")

	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- ts.s.Shutdown(ctx) }()
	cancel() // the handler is still blocked: Shutdown cannot have finished
	if err := recv(t, shut, "Shutdown"); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown returned %v, want context.Canceled", err)
	}
	if rest := busy.expectClosed(); rest != "" {
		t.Errorf("the connection read %q before it closed", rest)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel() // it waits for timers: let the others run meanwhile
	ts := startServer(t, echoPath, func(s *Server) { s.IdleTimeout = 1500 * time.Millisecond })
	rc := dialRaw(t, ts.addr)
	rc.roundTrip(get("/a"))
	start := time.Now()
	rc.expectClosed()
	// The idle deadline moves at most once a second: the server closes
	// between IdleTimeout-1s and IdleTimeout after the last request.
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("an idle connection closed after %v, want about 1.5s", d)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel() // it waits for timers: let the others run meanwhile
	ts := startServer(t, echoPath, func(s *Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
	rc := dialRaw(t, ts.addr)
	rc.roundTrip(get("/a")) // a whole head is served; the connection stays
	start := time.Now()
	rc.write("GET /b HTTP/1.1\r\nHost: exa")
	if rest := rc.expectClosed(); rest != "" {
		t.Errorf("the server answered half a head: %q", rest)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("half a head held the connection for %v, want about 300ms", d)
	}
}

func TestClientGoneCancels(t *testing.T) {
	t.Parallel() // it waits for timers: let the others run meanwhile
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched on Linux only")
	}
	entered := make(chan struct{})
	causes := make(chan error, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-r.Context().Done():
			causes <- context.Cause(r.Context())
		case <-time.After(2 * wait):
			causes <- errors.New("the request's context did not end")
		}
	}, func(s *Server) { s.Hangups = hangup.New(nil) })
	rc := dialRaw(t, ts.addr)
	rc.write(get("/wait"))
	recv(t, entered, "the handler")
	rc.c.Close()
	start := time.Now()
	err := recv(t, causes, "the handler's context")
	if !errors.Is(err, errClientGone) {
		t.Errorf("context cause %v, want errClientGone", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the context ended %v after the client hung up", d)
	}
}

// TestClientGoneCancelsLaterRequests: once the client hung up, a request
// it had pipelined behind the cancelled one starts cancelled too.
func TestClientGoneCancelsLaterRequests(t *testing.T) {
	t.Parallel() // it waits for timers: let the others run meanwhile
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched on Linux only")
	}
	causes := make(chan error, 2)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/second" {
			causes <- context.Cause(r.Context())
			return
		}
		select {
		case <-r.Context().Done():
			causes <- context.Cause(r.Context())
		case <-time.After(2 * wait):
			causes <- errors.New("the request's context did not end")
		}
	}, func(s *Server) { s.Hangups = hangup.New(nil) })
	rc := dialRaw(t, ts.addr)
	rc.write(get("/first") + get("/second"))
	rc.c.(*net.TCPConn).CloseWrite()
	for _, path := range []string{"/first", "/second"} {
		if err := recv(t, causes, path+"'s context"); !errors.Is(err, errClientGone) {
			t.Errorf("%s: context cause %v, want errClientGone", path, err)
		}
	}
}

func TestServeConnAhead(t *testing.T) {
	ts := startServer(t, echoPath)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc := dialRaw(t, ln.Addr().String())
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// ahead holds a whole request and the start of the next; the client
	// sends the rest of it.
	second := get("/second")
	if !ts.s.ServeConn(sc, []byte(get("/first")+second[:10])) {
		sc.Close()
		t.Fatal("ServeConn did not take the connection")
	}
	if _, body := rc.readAll("GET"); body != "/first" {
		t.Errorf("the request in ahead: %q", body)
	}
	rc.write(second[10:])
	if _, body := rc.readAll("GET"); body != "/second" {
		t.Errorf("the request begun in ahead: %q", body)
	}
}

// A request that runs past the connection's read deadline (set before it
// ran) does not leave that deadline to cut the next head short.
func TestDeadlineAfterLongHandler(t *testing.T) {
	t.Parallel() // it waits for timers: let the others run meanwhile
	const idle = 300 * time.Millisecond
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-time.After(idle + 200*time.Millisecond) // past the idle deadline set before the request
		}
		echoPath(w, r)
	}, func(s *Server) { s.IdleTimeout = idle })

	t.Run("next request", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		if _, body := rc.roundTrip(get("/slow")); body != "/slow" {
			t.Fatalf("%q", body)
		}
		if _, body := rc.roundTrip(get("/next")); body != "/next" {
			t.Fatalf("the request after a slow one: %q", body)
		}
	})

	t.Run("pipelined head in pieces", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		next := get("/next")
		rc.write(get("/slow") + next[:20])
		if _, body := rc.readAll("GET"); body != "/slow" {
			t.Fatalf("%q", body)
		}
		rc.write(next[20:])
		if _, body := rc.readAll("GET"); body != "/next" {
			t.Fatalf("the pipelined request after a slow one: %q", body)
		}
	})
}

// A handler may leave a goroutine reading the body behind it (as
// http.Transport may when an upstream answers before it has read the whole
// request): the connection closes after the response, the reader's read
// fails, and the read buffer is not reused under it (run with -race).
func TestBodyReaderOutlivesHandler(t *testing.T) {
	readErr := make(chan error, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/early" {
			echoPath(w, r)
			return
		}
		reading := make(chan struct{})
		go func() {
			first := make([]byte, 10)
			io.ReadFull(r.Body, first) // what the client sent so far
			close(reading)
			_, err := io.Copy(io.Discard, r.Body) // blocks: the rest is not sent
			readErr <- err
		}()
		<-reading
		io.WriteString(w, "early answer")
	})
	rc := dialRaw(t, ts.addr)
	rc.write("POST /early HTTP/1.1\r\nHost: example.com\r\nContent-Length: " + strconv.Itoa(1<<20) + "\r\n\r\n0123456789")
	resp, body := rc.readAll("POST")
	if body != "early answer" || !resp.Close {
		t.Errorf("got %q, Connection: close %v", body, resp.Close)
	}
	rc.expectClosed()
	if err := recv(t, readErr, "the body reader"); err == nil {
		t.Error("the body reader read to the end of a body never sent")
	}
	// Other connections, with read buffers from the pool, are served.
	for i := range 5 {
		path := "/other/" + strconv.Itoa(i)
		if _, body := dialRaw(t, ts.addr).roundTrip(get(path)); body != path {
			t.Errorf("another connection: %q", body)
		}
	}
}

// TestCRLFAfterPost: an extra CRLF after a POST body (old clients) is
// skipped, as net/http does, and the next request stays in the fast lane.
func TestCRLFAfterPost(t *testing.T) {
	ts := startServer(t, echoPath)
	rc := dialRaw(t, ts.addr)
	resp, body := rc.roundTrip("POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello\r\n")
	if got := resp.Header.Get(servedBy); got == "net/http" || body != "/uphello" {
		t.Fatalf("POST: answered by %q, body %q", got, body)
	}
	resp, body = rc.roundTrip(get("/next"))
	if got := resp.Header.Get(servedBy); got == "net/http" || resp.StatusCode != http.StatusOK || body != "/next" {
		t.Fatalf("after the CRLF: answered by %q, %s %q", got, resp.Status, body)
	}
}

// TestEarlyAnswerToLargeBody: a handler that answers without reading a
// large body (a 413, say) must reach a client still sending it; closing
// at once would reset the connection under the response.
func TestEarlyAnswerToLargeBody(t *testing.T) {
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	c := ts.client()
	for i := 0; i < 20; i++ {
		resp, err := c.Post(ts.url("/up"), "application/octet-stream", bytes.NewReader(make([]byte, 8<<20)))
		if err != nil {
			t.Fatalf("try %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Fatalf("try %d: %s (close %v) %q, want 413 with Connection: close", i, resp.Status, resp.Close, body)
		}
	}
}

// TestRequestStart: the ResponseWriter tells when the request began,
// for handlers that time requests without reading the clock again.
func TestRequestStart(t *testing.T) {
	starts := make(chan time.Time, 1)
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		rs, ok := w.(interface{ RequestStart() time.Time })
		if !ok {
			starts <- time.Time{}
			return
		}
		starts <- rs.RequestStart()
	})
	rc := dialRaw(t, ts.addr)
	before := time.Now()
	rc.roundTrip(get("/a"))
	after := time.Now()
	if st := recv(t, starts, "the start"); st.Before(before) || st.After(after) {
		t.Errorf("RequestStart %v, not between %v and %v", st, before, after)
	}
}

// TestEmptyHandler: a handler that writes nothing answers 200 with an
// empty body and the header fields it set.
func TestEmptyHandler(t *testing.T) {
	ts := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Empty", "yes")
	})
	rc := dialRaw(t, ts.addr)
	for range 2 { // and the connection serves the next request
		resp, body := rc.roundTrip(get("/empty"))
		if resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != 0 || resp.Header.Get("X-Empty") != "yes" {
			t.Fatalf("got %d %q (length %d, X-Empty %q), want 200, an empty body and X-Empty: yes",
				resp.StatusCode, body, resp.ContentLength, resp.Header.Get("X-Empty"))
		}
	}
}
