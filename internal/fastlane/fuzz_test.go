package fastlane

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// fuzzSeeds are realistic heads (with what follows them on the wire) for
// FuzzParseHead; the accepted and refused tables of head_test.go seed it
// too.
var fuzzSeeds = []string{
	"POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: OpenAI/Python 1.54.4\r\nAccept: application/json\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-test-0123456789abcdef\r\nX-Stainless-Lang: python\r\nX-Stainless-Retry-Count: 0\r\nContent-Length: 94\r\nConnection: keep-alive\r\n\r\n" +
		`{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"Hello!"}],"max_tokens":8}`,
	"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\nuser-agent: curl/8.5.0\r\naccept: text/event-stream\r\ncontent-type: application/json\r\nauthorization: Bearer x\r\ncontent-length: 57\r\n\r\n" +
		`{"model":"m","stream":true,"messages":[],"max_tokens":1}`,
	"POST /v1/completions?api-version=2024-02-01 HTTP/1.1\r\nHost: gw.internal:443\r\nApi-Key: abc\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 0\r\nTraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nConnection: close\r\n\r\n",
	"POST /v1/embeddings HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 52\r\nContent-Type: application/json\r\nAccept-Encoding: gzip, deflate\r\nX-Request-Id: 3f2c\r\nX-Request-Id: 9a1b\r\n\r\n" +
		`{"input":["a","b"],"model":"text-embedding-3-small"}`,
	"GET /v1/models HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer sk\r\nPragma: no-cache\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /v1/models/llama%2F3 HTTP/1.1\r\nHost: a\r\nCache-Control: max-age=0\r\nPragma: no-cache\r\n\r\n",
	"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
	"GET /v1/realtime HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: cloſe\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: x, CLOSE\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
}

func FuzzParseHead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, c := range acceptedHeads {
		f.Add([]byte(c.head))
	}
	for _, c := range refusedHeads {
		f.Add([]byte(c.head))
	}
	f.Fuzz(checkHead)
}

// TestParseHeadMatchesNetHTTP runs the fuzz checks on the seeds.
func TestParseHeadMatchesNetHTTP(t *testing.T) {
	for _, s := range fuzzSeeds {
		checkHead(t, []byte(s))
	}
}

// checkHead checks what the fast lane makes of data against net/http:
// headEnd finds the same end when the head arrives byte by byte, and a
// head parseHead accepts is one net/http's server accepts too and reads
// the same way.
func checkHead(t *testing.T, data []byte) {
	t.Helper()
	end := headEnd(data, 0)
	if got := headEndIncremental(data); got != end {
		t.Fatalf("headEnd(%q): %d byte by byte, %d at once", data, got, end)
	}
	if end < 0 {
		return
	}
	head := data[:end]
	h, ok := parseHead(head)
	if !ok {
		return // net/http reads it: whatever it decides is right
	}
	r, err := serverReadRequest(head)
	if err != nil {
		t.Fatalf("parseHead accepted what net/http refuses\nhead:     %q\nfastlane: %s\nnet/http: %v", head, fmtHead(h), err)
	}
	if diff := compareHead(h, r); diff != "" {
		t.Fatalf("parseHead reads a head differently from net/http: %s\nhead:     %q\nfastlane: %s\nnet/http: %s", diff, head, fmtHead(h), fmtRequest(r))
	}
}

// headEndIncremental is headEnd as readHead calls it: on what has arrived
// so far (one byte more each time), resuming where it stopped.
func headEndIncremental(data []byte) int {
	scanned := 0
	for n := 1; n <= len(data); n++ {
		if end := headEnd(data[:n], scanned); end >= 0 {
			return end
		}
		scanned = n
	}
	return -1
}

// serverReadRequest reads a request head as net/http's server does: the
// request parse, then the checks of (*http.conn).readRequest (Go 1.26)
// that http.ReadRequest leaves to the server.
func serverReadRequest(head []byte) (*http.Request, error) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return nil, err
	}
	if r.ProtoMajor != 1 || r.ProtoMinor > 1 {
		return nil, fmt.Errorf("505: unsupported protocol version %q", r.Proto)
	}
	// http.ReadRequest drops the Host fields the server checks: read
	// them again as readRequest did.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	hosts, haveHost := mh["Host"]
	if r.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && r.Method != "CONNECT" && r.Method != "PRI" {
		return nil, fmt.Errorf("400: missing required Host header")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return nil, fmt.Errorf("400: malformed Host header")
	}
	for k, vv := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("400: invalid header name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("400: invalid header value %q", v)
			}
		}
	}
	return r, nil
}

// compareHead returns how h differs from net/http's reading r of the same
// head ("": not at all), and what of r the fast lane must never serve.
func compareHead(h reqHead, r *http.Request) string {
	var diffs []string
	add := func(field string, ours, theirs any) {
		if !reflect.DeepEqual(ours, theirs) {
			diffs = append(diffs, fmt.Sprintf("%s: %#v, net/http %#v", field, ours, theirs))
		}
	}
	add("Method", h.method, r.Method)
	add("RequestURI", h.target, r.RequestURI)
	if h.url == nil {
		diffs = append(diffs, "URL: nil")
	} else {
		add("URL.Path", h.url.Path, r.URL.Path)
		add("URL.RawPath", h.url.RawPath, r.URL.RawPath)
		add("URL.RawQuery", h.url.RawQuery, r.URL.RawQuery)
		add("URL", *h.url, *r.URL)
		add("URL.Host", h.url.Host, "") // origin-form only: Host is the header's
	}
	add("Host", h.host, r.Host)
	add("Header", h.header, r.Header)
	add("ContentLength", h.contentLength, r.ContentLength)
	add("Close", h.close, r.Close)
	// net/http's server also closes after the reply when its own scan of
	// the first Connection field finds "close" (Request.wantsClose).
	add("Close (server)", h.close, r.Close || serverHasToken(r.Header.Get("Connection"), "close"))
	add("TransferEncoding", len(r.TransferEncoding), 0)
	add("Proto", r.Proto, "HTTP/1.1")
	for _, k := range []string{"Transfer-Encoding", "Expect", "Upgrade"} {
		if _, ok := r.Header[k]; ok {
			diffs = append(diffs, k+" accepted")
		}
	}
	return strings.Join(diffs, "; ")
}

// serverHasToken is net/http's hasToken (header.go, Go 1.26), with which
// its server decides whether a request asks to close the connection: a
// case-insensitive (ASCII) match on token boundaries (SP, HTAB, comma).
func serverHasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	boundary := func(b byte) bool { return b == ' ' || b == ',' || b == '\t' }
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if sp > 0 && !boundary(v[sp-1]) {
			continue
		}
		if e := sp + len(token); e != len(v) && !boundary(v[e]) {
			continue
		}
		if asciiEqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func fmtHead(h reqHead) string {
	u := "<nil>"
	if h.url != nil {
		u = fmt.Sprintf("%#v", *h.url)
	}
	return fmt.Sprintf("method=%q target=%q url=%s host=%q header=%#v contentLength=%d close=%v",
		h.method, h.target, u, h.host, h.header, h.contentLength, h.close)
}

func fmtRequest(r *http.Request) string {
	return fmt.Sprintf("method=%q target=%q url=%#v host=%q header=%#v contentLength=%d close=%v transferEncoding=%q proto=%q",
		r.Method, r.RequestURI, *r.URL, r.Host, r.Header, r.ContentLength, r.Close, r.TransferEncoding, r.Proto)
}
