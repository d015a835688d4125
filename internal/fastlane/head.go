package fastlane

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// reqHead is a request head the fast lane serves.
type reqHead struct {
	method, target, host string
	url                  *url.URL
	header               http.Header
	contentLength        int64
	close                bool // the client asked to close after this request
}

// headEnd returns the length of the request head at the start of b,
// through its blank line, or -1 when b does not hold all of it yet.
// from is where to resume scanning (what was scanned before).
func headEnd(b []byte, from int) int {
	if from > 3 {
		from -= 3
	} else {
		from = 0
	}
	for i := from; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return i + 4
		}
	}
	return -1
}

// hasBareLF reports whether b has an LF without a CR before it, from
// from on: a head the fast lane leaves to net/http, and whose end
// headEnd would never find.
func hasBareLF(b []byte, from int) bool {
	for i := max(from, 0); i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// leadingCRLF counts the CR and LF bytes among the first four of b.
func leadingCRLF(b []byte) int {
	n := 0
	for n < len(b) && n < 4 && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// parseHead parses a whole request head (as headEnd found it). ok is false
// when the request is not for the fast lane: net/http then reads it from
// the start, accepting or refusing it by its own rules.
func parseHead(b []byte) (h reqHead, ok bool) {
	s := string(b) // one allocation: names and values are slices of it
	line, rest, _ := strings.Cut(s, "\r\n")
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return h, false
	}
	h.method = line[:sp]
	if !isToken(h.method) || h.method == http.MethodConnect || h.method == "PRI" {
		return h, false
	}
	line = line[sp+1:]
	sp = strings.IndexByte(line, ' ')
	if sp <= 0 || line[sp+1:] != "HTTP/1.1" {
		return h, false
	}
	h.target = line[:sp]
	if h.target[0] != '/' || !isTarget(h.target) {
		return h, false
	}
	n := strings.Count(rest, "\r\n") - 1
	if n < 0 {
		return h, false
	}
	u, vals := newHeadStore(n)
	if parseTarget(u, h.target) {
		h.url = u
	} else {
		u, err := url.ParseRequestURI(h.target)
		if err != nil {
			return h, false
		}
		h.url = u
	}
	h.header = make(http.Header, max(n-1, 0)) // Host stays out of it
	seenHost, seenLength := false, false
	for i := 0; i < n; i++ {
		line, rest, _ = strings.Cut(rest, "\r\n")
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return h, false // also a folded line: it starts with white space
		}
		value := trimOWS(line[colon+1:])
		if !isFieldValue(value) {
			return h, false
		}
		key := textproto.CanonicalMIMEHeaderKey(line[:colon])
		switch key {
		case "Host":
			if seenHost || value == "" || !httpguts.ValidHostHeader(value) {
				return h, false
			}
			seenHost, h.host = true, value
			continue // net/http keeps Host out of Header too
		case "Content-Length":
			cl, ok := parseLength(value)
			if seenLength || !ok {
				return h, false
			}
			seenLength, h.contentLength = true, cl
		case "Transfer-Encoding", "Expect", "Upgrade":
			return h, false
		case "Connection":
			// A plain list of tokens only: net/http's server reads this
			// field twice (a list parse for Request.Close, and a scan for
			// "close" between white space and commas to close after the
			// reply), folding ASCII case only; on anything else the two
			// readings, or hasToken's Unicode folding ("clo\u017fe"),
			// could disagree with the fast lane's.
			if !isTokenList(value) {
				return h, false
			}
			if hasToken(value, "close") {
				h.close = true
			}
		}
		if old, dup := h.header[key]; dup {
			h.header[key] = append(old, value)
			continue
		}
		vals[i] = value
		h.header[key] = vals[i : i+1 : i+1]
	}
	if !seenHost {
		return h, false
	}
	// As net/http does: an HTTP/1.0 cache directive, for upstreams that
	// only read Cache-Control.
	if p, ok := h.header["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h.header["Cache-Control"]; !ok {
			h.header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return h, true
}

// newHeadStore returns room for a request's URL and the values of its n
// header fields, in one allocation up to 16 fields (they live as long as
// each other). The sizes fill the 240-, 320- and 416-byte size classes.
func newHeadStore(n int) (*url.URL, []string) {
	switch {
	case n <= 6:
		st := new(struct {
			url  url.URL
			vals [6]string
		})
		return &st.url, st.vals[:n]
	case n <= 10:
		st := new(struct {
			url  url.URL
			vals [10]string
		})
		return &st.url, st.vals[:n]
	case n <= 16:
		st := new(struct {
			url  url.URL
			vals [16]string
		})
		return &st.url, st.vals[:n]
	}
	return new(url.URL), make([]string, n)
}

// parseTarget parses an origin-form target (it starts with '/', has
// only visible ASCII) into u as url.ParseRequestURI would, for a path
// that neither unescaping nor re-escaping changes: Path is then the
// path as sent, and RawPath empty. It reports false for any other path
// (a '%', or a byte the URL package escapes): parse it with the URL
// package then.
func parseTarget(u *url.URL, target string) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	for i := 0; i < len(path); i++ {
		if !pathByte(path[i]) {
			return false
		}
	}
	u.Path = path
	if hasQuery {
		// As in net/url: a lone '?' at the end forces an empty query;
		// otherwise the query is everything after the first '?'.
		u.RawQuery, u.ForceQuery = query, query == ""
	}
	return true
}

// pathByte reports whether c stands for itself in a URL path: an
// unreserved byte or a reserved one that net/url leaves unescaped in
// paths. (TestParseTargetBytes checks the set against net/url.)
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

// parseLength parses a Content-Length value: digits only, at most 18 of
// them (no overflow), no sign and no list.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// trimOWS trims optional white space (SP and HTAB) at both ends.
func trimOWS(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// isTarget reports whether an origin-form target has only visible ASCII.
func isTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether v (trimmed) has no control character but
// HTAB; obs-text (0x80-0xFF) passes, as in net/http.
func isFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isTokenList reports whether v is a comma-separated list of tokens, with
// optional white space around each; empty elements are allowed.
func isTokenList(v string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if t = trimOWS(t); t != "" && !isToken(t) {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token,
// ignoring case.
func hasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(trimOWS(t), token) {
			return true
		}
	}
	return false
}
