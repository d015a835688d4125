package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"reflect"
	"strings"
	"testing"
)

// rawResponse serves one response of exact bytes per request.
func rawResponse(t *testing.T, out string) *rawServer {
	return newRawServer(t, func(c net.Conn, _ int) {
		serveRequests(c, func(*http.Request, []byte, int) (string, bool) { return out, true })
	})
}

func TestInformationalSkipped(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 100 Continue\r\n\r\n"+
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
	c := newClient(t)
	for range 2 {
		code, body := get(t, c, s.url())
		if code != 200 || body != "body" {
			t.Fatalf("got %d %q, want 200 body", code, body)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestSwitchingProtocolsRefused(t *testing.T) {
	s := rawResponse(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	_, err := newClient(t).RoundTrip(newRequest(t, "GET", s.url(), nil))
	if !errors.Is(err, errUpgrade) {
		t.Fatalf("err = %v, want upgrade not supported", err)
	}
}

func TestTrailers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Usage, X-Other")
		io.WriteString(w, "data")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Usage", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	defer srv.Close()
	resp, err := newClient(t).RoundTrip(newRequest(t, "GET", srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := http.Header{"X-Usage": nil, "X-Other": nil}
	if !reflect.DeepEqual(resp.Trailer, want) {
		t.Errorf("announced Trailer = %v, want %v", resp.Trailer, want)
	}
	if _, ok := resp.Header["Trailer"]; ok {
		t.Error("Trailer left in resp.Header")
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "data" {
		t.Fatalf("body %q, %v", b, err)
	}
	want = http.Header{"X-Usage": {"42"}, "X-Other": nil, "X-Late": {"late"}}
	if !reflect.DeepEqual(resp.Trailer, want) {
		t.Errorf("Trailer at EOF = %v, want %v", resp.Trailer, want)
	}
}

func TestHeaderSize(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 10<<10) + "\r\n"
	t.Run("over the read buffer", func(t *testing.T) {
		s := rawResponse(t, "HTTP/1.1 200 OK\r\n"+long+"Content-Length: 2\r\n\r\nok")
		resp, err := newClient(t).RoundTrip(newRequest(t, "GET", s.url(), nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(resp.Header.Get("X-Long")) != 10<<10 || string(b) != "ok" {
			t.Errorf("X-Long of %d bytes, body %q", len(resp.Header.Get("X-Long")), b)
		}
	})
	t.Run("over 64 KiB", func(t *testing.T) {
		s := rawResponse(t, "HTTP/1.1 200 OK\r\n"+strings.Repeat(long, 7)+"Content-Length: 2\r\n\r\nok")
		_, err := newClient(t).RoundTrip(newRequest(t, "GET", s.url(), nil))
		if !errors.Is(err, errHeaderTooLarge) {
			t.Fatalf("err = %v, want header too large", err)
		}
	})
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		in      string
		wantErr bool
		code    int
		status  string
		header  http.Header
		framing Framing
		length  int64 // resp.ContentLength
		close   bool
		body    string
	}{
		{name: "lower-case names", in: "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-custom-thing: a\r\nX-custom-thing: b\r\ncontent-length: 2\r\n\r\nok",
			code: 200, status: "200 OK", header: http.Header{"Content-Type": {"text/plain"}, "X-Custom-Thing": {"a", "b"}, "Content-Length": {"2"}},
			framing: FramingLength, length: 2, body: "ok"},
		{name: "bare LF and OWS", in: "HTTP/1.1 200 OK\nA:  x \nContent-Length:2\n\nok",
			code: 200, status: "200 OK", header: http.Header{"A": {"x"}, "Content-Length": {"2"}}, framing: FramingLength, length: 2, body: "ok"},
		{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nA: x\r\n  y\r\nContent-Length: 0\r\n\r\n",
			code: 200, status: "200 OK", header: http.Header{"A": {"x y"}, "Content-Length": {"0"}}, framing: FramingNone},
		{name: "no reason", in: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n",
			code: 404, status: "404", header: http.Header{"Content-Length": {"0"}}, framing: FramingNone},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nall of it",
			code: 200, status: "200 OK", header: http.Header{}, framing: FramingUntilClose, length: -1, close: true, body: "all of it"},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
			code: 200, status: "200 OK", header: http.Header{"Content-Length": {"1"}}, framing: FramingLength, length: 1, close: true, body: "x"},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
			code: 200, status: "200 OK", header: http.Header{"Connection": {"keep-alive"}, "Content-Length": {"1"}}, framing: FramingLength, length: 1, body: "x"},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nok\r\n0\r\n\r\n",
			code: 200, status: "200 OK", header: http.Header{}, framing: FramingChunked, length: -1, body: "ok"},
		{name: "same length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
			code: 200, status: "200 OK", header: http.Header{"Content-Length": {"1"}}, framing: FramingLength, length: 1, body: "x"},
		{name: "HEAD keeps length", method: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
			code: 200, status: "200 OK", header: http.Header{"Content-Length": {"10"}}, framing: FramingNone, length: 10},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", wantErr: true},
		{name: "gzip coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: true},
		{name: "bad version", in: "HTTP/2.0 200 OK\r\n\r\n", wantErr: true},
		{name: "bad code", in: "HTTP/1.1 20x OK\r\n\r\n", wantErr: true},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: true},
		{name: "space in name", in: "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", wantErr: true},
		{name: "control in value", in: "HTTP/1.1 200 OK\r\nA: x\x00y\r\n\r\n", wantErr: true},
		{name: "bad trailer key", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n", wantErr: true},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nA: b\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req := &http.Request{Method: method}
			var ex exchange
			br := bufio.NewReader(strings.NewReader(tt.in))
			fr, n, _, err := readResponse(br, &ex.resp, req, ex.vals[:])
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error for %q", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := &ex.resp
			if r.StatusCode != tt.code || r.Status != tt.status || fr != tt.framing || r.ContentLength != tt.length || r.Close != tt.close {
				t.Errorf("got %d %q %v length %d close %v", r.StatusCode, r.Status, fr, r.ContentLength, r.Close)
			}
			if !reflect.DeepEqual(r.Header, tt.header) {
				t.Errorf("header %v, want %v", r.Header, tt.header)
			}
			b := &ex.body
			b.ctx, b.resp, b.br, b.framing, b.remaining = t.Context(), r, br, fr, n
			got, err := io.ReadAll(b)
			if err != nil || string(got) != tt.body {
				t.Errorf("body %q, %v; want %q", got, err, tt.body)
			}
		})
	}
}

// FuzzReadResponse feeds arbitrary bytes to the response parser and the
// body decoders: no panic, and a body never returns more than its
// framing allows.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: A\r\n\r\n2\r\nok\r\n0\r\nA: b\r\n\r\n")
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest")
	f.Add("HTTP/1.1 200 OK\r\nA: x\r\n y\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		var ex exchange
		br := bufio.NewReaderSize(strings.NewReader(in), readBufSize)
		fr, n, _, err := readResponse(br, &ex.resp, &http.Request{Method: "GET"}, ex.vals[:])
		if err != nil {
			return
		}
		b := &ex.body
		b.ctx, b.resp, b.br, b.framing, b.remaining = t.Context(), &ex.resp, br, fr, n
		got, _ := io.ReadAll(io.LimitReader(b, int64(len(in))+1))
		if len(got) > len(in) || fr == FramingLength && int64(len(got)) > n {
			t.Fatalf("body of %d bytes from %d input bytes (framing %v, length %d)", len(got), len(in), fr, n)
		}
	})
}

// FuzzChunked round-trips data through the chunked writer and reader
// and checks the reader against net/http's on the same bytes.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("hello"), 3)
	f.Add([]byte{}, 1)
	f.Add(bytes.Repeat([]byte("x"), 5000), 1000)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		if step <= 0 || step > 1<<16 {
			step = 1
		}
		var wire bytes.Buffer
		src := &stepReader{b: data, step: step}
		if err := copyChunked(&wire, src, nil, make([]byte, copyBufSize)); err != nil {
			t.Fatal(err)
		}
		encoded := wire.String()
		var ex exchange
		b := &ex.body
		b.ctx, b.resp, b.framing = t.Context(), &ex.resp, FramingChunked
		b.br = bufio.NewReaderSize(strings.NewReader(encoded), readBufSize)
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes: got %d, %v", len(data), len(got), err)
		}
		ref, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(encoded)))
		if err != nil || !bytes.Equal(ref, data) {
			t.Fatalf("net/http reads the encoding as %d bytes, %v", len(ref), err)
		}
	})
}

type stepReader struct {
	b    []byte
	step int
}

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.step, len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}
