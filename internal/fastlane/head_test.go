package fastlane

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// headWant is what parseHead must make of an accepted head.
type headWant struct {
	method, target                string
	path, rawPath, rawQuery, host string
	header                        http.Header
	contentLength                 int64
	close                         bool
}

// openAIHead is a realistic chat-completions head: 8 fields and the body
// they announce.
const openAIHead = "POST /v1/chat/completions HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: OpenAI/Python 1.54.4\r\n" +
	"Accept: application/json\r\n" +
	"Content-Type: application/json\r\n" +
	"Authorization: Bearer sk-test-0123456789abcdef\r\n" +
	"X-Stainless-Lang: python\r\n" +
	"Content-Length: 94\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

var acceptedHeads = []struct {
	name, head string
	want       headWant
}{
	{"openai chat", openAIHead, headWant{
		method: "POST", target: "/v1/chat/completions", path: "/v1/chat/completions", host: "api.example.com",
		header: http.Header{
			"User-Agent":       {"OpenAI/Python 1.54.4"},
			"Accept":           {"application/json"},
			"Content-Type":     {"application/json"},
			"Authorization":    {"Bearer sk-test-0123456789abcdef"},
			"X-Stainless-Lang": {"python"},
			"Content-Length":   {"94"},
			"Connection":       {"keep-alive"},
		},
		contentLength: 94,
	}},
	{"get with query and port", "GET /v1/models?limit=10&after=m%201 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n", headWant{
		method: "GET", target: "/v1/models?limit=10&after=m%201", path: "/v1/models", rawQuery: "limit=10&after=m%201",
		host: "localhost:8080", header: http.Header{},
	}},
	{"ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "[::1]:8080", header: http.Header{},
	}},
	{"escaped slash keeps RawPath", "GET /v1/models/meta%2Fllama-3 HTTP/1.1\r\nHost: a\r\n\r\n", headWant{
		method: "GET", target: "/v1/models/meta%2Fllama-3", path: "/v1/models/meta/llama-3", rawPath: "/v1/models/meta%2Fllama-3",
		host: "a", header: http.Header{},
	}},
	{"double slash is a path, not an authority", "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n", headWant{
		method: "GET", target: "//evil.example/x", path: "//evil.example/x", host: "a", header: http.Header{},
	}},
	{"query escapes are not checked (nor by net/http)", "GET /?q=%zz HTTP/1.1\r\nHost: a\r\n\r\n", headWant{
		method: "GET", target: "/?q=%zz", path: "/", rawQuery: "q=%zz", host: "a", header: http.Header{},
	}},
	{"lowercase method is a token (net/http accepts it)", "get / HTTP/1.1\r\nHost: a\r\n\r\n", headWant{
		method: "get", target: "/", path: "/", host: "a", header: http.Header{},
	}},
	{"extension method", "M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n", headWant{
		method: "M-SEARCH", target: "/", path: "/", host: "a", header: http.Header{},
	}},
	{"repeated fields", "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\nX-Id: 1\r\naccept: application/json\r\nACCEPT: */*\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"Accept": {"text/html", "application/json", "*/*"}, "X-Id": {"1"}},
	}},
	{"content-length zero", "POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", headWant{
		method: "POST", target: "/v1/embeddings", path: "/v1/embeddings", host: "a",
		header: http.Header{"Content-Length": {"0"}},
	}},
	{"content-length leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", headWant{
		method: "POST", target: "/", path: "/", host: "a", header: http.Header{"Content-Length": {"007"}}, contentLength: 7,
	}},
	{"content-length 18 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n", headWant{
		method: "POST", target: "/", path: "/", host: "a",
		header: http.Header{"Content-Length": {"999999999999999999"}}, contentLength: 999999999999999999,
	}},
	{"content-length with OWS", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 42 \t\r\n\r\n", headWant{
		method: "POST", target: "/", path: "/", host: "a", header: http.Header{"Content-Length": {"42"}}, contentLength: 42,
	}},
	{"connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Connection": {"close"}}, close: true,
	}},
	{"connection list with Close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Connection": {"keep-alive, Close"}}, close: true,
	}},
	{"connection close in a second field", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nconnection: TE,CLOSE\r\nTE: trailers\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"Connection": {"keep-alive", "TE,CLOSE"}, "Te": {"trailers"}}, close: true,
	}},
	{"connection list with empty elements", "GET / HTTP/1.1\r\nHost: a\r\nConnection: , close ,\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Connection": {", close ,"}}, close: true,
	}},
	{"connection keep-alive", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Connection": {"keep-alive"}},
	}},
	{"connection closed is not close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, x-close\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Connection": {"closed, x-close"}},
	}},
	{"OWS trimmed, inner white space kept", "GET / HTTP/1.1\r\nHost:\t a \t\r\nX-A: \t v a\tl \t\r\nX-B:v\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"X-A": {"v a\tl"}, "X-B": {"v"}, "X-Empty": {""}, "X-Blank": {""}},
	}},
	{"pragma no-cache adds cache-control", "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}},
	}},
	{"pragma no-cache keeps cache-control", "GET / HTTP/1.1\r\nHost: a\r\nCache-Control: max-age=0\r\nPragma: no-cache\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"max-age=0"}},
	}},
	{"pragma other value", "GET / HTTP/1.1\r\nHost: a\r\nPragma: No-Cache\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"Pragma": {"No-Cache"}},
	}},
	{"non-canonical names", "POST /v1/chat/completions HTTP/1.1\r\nhOsT: a\r\ncontent-type: application/json\r\nCONTENT-LENGTH: 2\r\nx-request-id: r1\r\nx_custom-header: u\r\nwww-authenticate: w\r\n\r\n", headWant{
		method: "POST", target: "/v1/chat/completions", path: "/v1/chat/completions", host: "a",
		header: http.Header{
			"Content-Type":     {"application/json"},
			"Content-Length":   {"2"},
			"X-Request-Id":     {"r1"},
			"X_custom-Header":  {"u"},
			"Www-Authenticate": {"w"},
		},
		contentLength: 2,
	}},
	{"obs-text values", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\nX-Raw: \x80\xff\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a",
		header: http.Header{"X-Name": {"caf\xc3\xa9"}, "X-Raw": {"\x80\xff"}},
	}},
	{"values with separators", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b:c, \"d e\"; f=(g)\r\n\r\n", headWant{
		method: "GET", target: "/", path: "/", host: "a", header: http.Header{"X-A": {"b:c, \"d e\"; f=(g)"}},
	}},
}

// refusedHeads are whole heads (headEnd finds their end) that the fast
// lane must leave to net/http.
var refusedHeads = []struct{ name, head string }{
	// Request line.
	{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n"},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"PRI method", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"HTTP/0.9", "GET /\r\nHost: a\r\n\r\n"},
	{"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{"odd version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"tab separators", "GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n"},
	{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"empty head", "\r\n\r\n"},
	{"CONNECT", "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"},
	{"CONNECT origin-form", "CONNECT /_goRPC_ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"absolute-form", "GET http://api.example.com/v1/models HTTP/1.1\r\nHost: api.example.com\r\n\r\n"},
	{"absolute-form https", "POST https://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
	{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"authority-form", "GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"NUL in target", "GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"CR in target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"DEL in target", "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"0xff in target", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"short escape", "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"truncated escape", "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"non-hex escape", "GET /%G0 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method with slash", "G/T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method with at", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method with parenthesis", "GE(T) / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"quoted method", "\"GET\" / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"method with NUL", "GET\x00 / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"non-ASCII method", "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Host.
	{"missing Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"},
	{"no fields", "GET / HTTP/1.1\r\n\r\n"},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"two equal Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"},
	{"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n"},
	{"empty Host without space", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"},
	{"Host with angle brackets", "GET / HTTP/1.1\r\nHost: <a>\r\n\r\n"},
	{"non-ASCII Host", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9.example\r\n\r\n"},

	// Content-Length.
	{"two Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
	{"two equal Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"},
	{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n"},
	{"Content-Length plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"},
	{"Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"},
	{"Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"},
	{"Content-Length hex digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n"},
	{"Content-Length underscore", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n"},
	{"Content-Length inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n"},
	{"Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n"},
	{"Content-Length 19 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000\r\n\r\n"},
	{"Content-Length 19 digits with zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000005\r\n\r\n"},
	{"Content-Length overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551617\r\n\r\n"},
	{"Content-Length non-ASCII digit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xd9\xa5\r\n\r\n"},

	// Framing and protocol switches net/http handles.
	{"Transfer-Encoding chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"Transfer-Encoding and Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"Transfer-Encoding identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"},
	{"Transfer-Encoding lowercase name", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n"},
	{"Transfer-Encoding empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"},
	{"Expect", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"},
	{"Expect other", "POST / HTTP/1.1\r\nHost: a\r\nexpect: x\r\n\r\n"},
	{"Upgrade websocket", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
	{"Upgrade h2c", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"},

	// Connection values net/http reads in two ways (a header value scan
	// and a list parse) or with ASCII case folding only.
	{"Connection with non-ASCII fold of close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: clo\xc5\xbfe\r\n\r\n"},
	{"Connection close after a space", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive close\r\n\r\n"},
	{"Connection with a non-token", "GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n\r\n"},

	// Field syntax.
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
	{"space before colon in Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n"},
	{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"},
	{"folded Host", "GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n"},
	{"first field line starts with space", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
	{"bare LF ends the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"},
	{"bare LF ends a field line", "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"},
	{"bare LF before the blank line", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\n\r\n\r\n"},
	{"bare CR ends a field line", "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n"},
	{"CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"},
	{"CR at the end of a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n"},
	{"LF in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\nc\r\n\r\n"},
	{"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n"},
	{"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n"},
	{"ESC in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x1b[31m\r\n\r\n"},
	{"VT at the end of a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x0b\r\n\r\n"},
	{"FF at the start of a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x0cb\r\n\r\n"},
	{"NUL in Host", "GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n"},
	{"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n"},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n"},
	{"space in a name", "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n"},
	{"separator in a name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n"},
	{"slash in a name", "GET / HTTP/1.1\r\nHost: a\r\nX/A: b\r\n\r\n"},
	{"non-ASCII name", "GET / HTTP/1.1\r\nHost: a\r\n\xc3\x84: b\r\n\r\n"},
	{"NUL in a name", "GET / HTTP/1.1\r\nHost: a\r\nX\x00A: b\r\n\r\n"},
}

func TestParseHeadAccepts(t *testing.T) {
	for _, c := range acceptedHeads {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.head)
			if end := headEnd(b, 0); end != len(b) {
				t.Fatalf("headEnd = %d, want %d", end, len(b))
			}
			h, ok := parseHead(b)
			if !ok {
				t.Fatalf("parseHead(%q) refused it", c.head)
			}
			w := c.want
			var path, rawPath, rawQuery string
			if h.url != nil {
				path, rawPath, rawQuery = h.url.Path, h.url.RawPath, h.url.RawQuery
			}
			got := headWant{h.method, h.target, path, rawPath, rawQuery, h.host, h.header, h.contentLength, h.close}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("parseHead(%q)\n got %+v\nwant %+v", c.head, got, w)
			}
			if _, ok := h.header["Host"]; ok {
				t.Errorf("Host is in the header map (net/http keeps it out)")
			}
			checkHead(t, b) // and net/http reads it the same way
		})
	}
}

func TestParseHeadRefuses(t *testing.T) {
	for _, c := range refusedHeads {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.head)
			end := headEnd(b, 0)
			if end < 0 {
				t.Fatalf("headEnd(%q) = -1: not a whole head", c.head)
			}
			if h, ok := parseHead(b[:end]); ok {
				t.Errorf("parseHead(%q) accepted it: %s", b[:end], fmtHead(h))
			}
		})
	}
}

// TestParseHeadValuesShareOneString: names and values are slices of the
// head's one copy, and a repeated field appends without writing into the
// next field's value.
func TestParseHeadValuesShareOneString(t *testing.T) {
	b := []byte("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n")
	h, ok := parseHead(b)
	if !ok {
		t.Fatal("refused")
	}
	h.header["X-A"] = append(h.header["X-A"], "4")
	if got := h.header["X-B"]; !reflect.DeepEqual(got, []string{"2"}) {
		t.Errorf("X-B = %q after appending to X-A", got)
	}
	b[len("GET / HTTP/1.1\r\nHost: a\r\nX-A: ")] = '9'
	if got := h.header["X-A"][0]; got != "1" {
		t.Errorf("X-A[0] = %q: the header aliases the read buffer", got)
	}
}

func TestHeadEnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", -1},
		{"\r\n\r", -1},
		{"\r\n\r\n", 4},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n", -1},
		{"GET / HTTP/1.1\nHost: a\n\n", -1},     // bare LF: never a head here
		{"GET / HTTP/1.1\r\nHost: a\n\r\n", -1}, // nor LF CR LF
		{"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 28},
		{"GET / HTTP/1.1\r\n\r\r\n\r\n", 21},
	} {
		if got := headEnd([]byte(c.in), 0); got != c.want {
			t.Errorf("headEnd(%q, 0) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestHeadEndResumes feeds heads in pieces of every size, as readHead
// does, resuming each scan where the last one stopped.
func TestHeadEndResumes(t *testing.T) {
	inputs := []string{
		openAIHead + `{"model":"m"}`,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\n",
		"\r\r\n\r\r\n\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\nnever\r\n\r",
	}
	// Every position of the blank line relative to where a scan stops.
	for pad := 0; pad < 8; pad++ {
		inputs = append(inputs, strings.Repeat("x", pad)+"\r\n\r\n", strings.Repeat("\r\n", pad)+"x\r\n\r\n")
	}
	for _, in := range inputs {
		b := []byte(in)
		want := headEnd(b, 0)
		for step := 1; step <= len(b)+1; step++ {
			got, scanned := -1, 0
			for n := min(step, len(b)); ; n = min(n+step, len(b)) {
				if got = headEnd(b[:n], scanned); got >= 0 || n == len(b) {
					break
				}
				if want >= 0 && want <= n {
					t.Fatalf("%q in pieces of %d: end %d missed in the first %d bytes", in, step, want, n)
				}
				scanned = n
			}
			if got != want {
				t.Fatalf("%q in pieces of %d: headEnd = %d, a fresh scan %d", in, step, got, want)
			}
		}
		// Resumed from every earlier stop, on the whole input.
		for from := 0; from <= len(b); from++ {
			if want >= 0 && from >= want {
				break // a scan that stopped there would have found it
			}
			if got := headEnd(b, from); got != want {
				t.Fatalf("headEnd(%q, %d) = %d, want %d", in, from, got, want)
			}
		}
	}
}

// BenchmarkParseHead parses a realistic 8-field chat-completions head;
// net-http is http.ReadRequest on the same head, for scale.
func BenchmarkParseHead(b *testing.B) {
	head := []byte(openAIHead)
	b.Run("fastlane", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			if _, ok := parseHead(head); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		rd := bytes.NewReader(head)
		br := bufio.NewReader(rd)
		for b.Loop() {
			rd.Reset(head)
			br.Reset(rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseTargetBytes checks parseTarget against url.ParseRequestURI
// for every visible ASCII byte in the path and the query, and for the
// ways a query can start.
func TestParseTargetBytes(t *testing.T) {
	targets := []string{"/", "/v1/chat/completions", "/x?", "/x??", "/x?a?", "/x?a=1&b=2", "/?", "//evil.example/x", "/a;b=c/d:e@f"}
	for c := byte('!'); c < 0x7f; c++ {
		targets = append(targets, "/a"+string(c)+"b", "/a"+string(c), "/a?q="+string(c)+"x")
	}
	for _, target := range targets {
		want, err := url.ParseRequestURI(target)
		var got url.URL
		if !parseTarget(&got, target) {
			continue // left to the URL package
		}
		if err != nil {
			t.Errorf("%q: parseTarget took a target url.ParseRequestURI refuses: %v", target, err)
			continue
		}
		if got != *want {
			t.Errorf("%q: parseTarget gave %#v, url.ParseRequestURI %#v", target, got, *want)
		}
	}
	for _, target := range []string{"/v1/chat/completions", "/v1/models?limit=10", "/"} {
		var u url.URL
		if !parseTarget(&u, target) {
			t.Errorf("%q: not parsed without the URL package", target)
		}
	}
}
