package route

import "net/http"

// ModelSource gives the `model` of an OpenAI-style request body. The
// gateway implements it: on the first call it reads the body (bounded),
// runs openai.Inspect and caches the answer. Matchers call it only when
// every other condition of a candidate route holds, so requests that no
// model route could match never have their body read. Its errors (bad
// JSON, body too large) reach the caller of Match unchanged.
type ModelSource interface {
	Model() (string, error)
}

// Request is what matching reads from an HTTP or gRPC request. The gateway
// fills the exported fields; Reset clears it for reuse from a pool.
type Request struct {
	// Method, e.g. "POST".
	Method string
	// Path as sent, escaped, without the query ("/v1/chat/completions").
	// gRPC calls have "/package.Service/Method".
	Path string
	// RawQuery is the query string without '?'; it is parsed only when a
	// route has query conditions, and then once.
	RawQuery string
	// Host without port, lower-case.
	Host string
	// Scheme, "http" or "https".
	Scheme string
	// Port of the listener the request arrived on.
	Port int
	// Header with canonical keys, as net/http provides them (for HTTP/2
	// and gRPC too).
	Header http.Header
	// Model reads the body's model on demand; nil means the request has
	// no body to inspect, which matches as model "".
	Model ModelSource

	query queryCache

	modelDone bool
	model     string
}

// Reset clears r for reuse, keeping the capacity it grew for query
// parameters.
func (r *Request) Reset() {
	extra := r.query.extra
	clear(extra)
	*r = Request{}
	r.query.extra = extra[:0]
}

// modelName asks the ModelSource once per request.
func (r *Request) modelName() (string, error) {
	if r.modelDone {
		return r.model, nil
	}
	if r.Model != nil {
		m, err := r.Model.Model()
		if err != nil {
			return "", err
		}
		r.model = m
	}
	r.modelDone = true
	return r.model, nil
}

// qparam is one name=value pair of the query, still form-encoded.
type qparam struct{ name, value string }

// queryCache holds the query split into pairs: the first eight in place,
// the rest in extra, which keeps its capacity across Reset.
type queryCache struct {
	parsed bool
	n      int
	inline [8]qparam
	extra  []qparam
}

func (q *queryCache) at(i int) *qparam {
	if i < len(q.inline) {
		return &q.inline[i]
	}
	return &q.extra[i-len(q.inline)]
}

// queryParam returns the still-encoded value of the first parameter whose
// decoded name is name. Parameters without '=' are present with value "".
func (r *Request) queryParam(name string) (string, bool) {
	q := &r.query
	if !q.parsed {
		q.parse(r.RawQuery)
	}
	for i := 0; i < q.n; i++ {
		if p := q.at(i); formEqual(p.name, name) {
			return p.value, true
		}
	}
	return "", false
}

// parse splits raw on '&' (not ';', as net/url since Go 1.17), skipping
// empty pieces. It does not allocate once extra has grown.
func (q *queryCache) parse(raw string) {
	q.parsed = true
	for raw != "" {
		var piece string
		piece, raw = cut(raw, '&')
		if piece == "" {
			continue
		}
		name, value := cut(piece, '=')
		p := qparam{name: name, value: value}
		if q.n < len(q.inline) {
			q.inline[q.n] = p
		} else {
			q.extra = append(q.extra, p)
		}
		q.n++
	}
}

func cut(s string, sep byte) (before, after string) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// formEqual reports whether the form-encoded raw ('+' for space, %XX
// escapes) decodes to want, without allocating. A '%' not followed by two
// hex digits stands for itself.
func formEqual(raw, want string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		ch := raw[i]
		switch {
		case ch == '+':
			ch = ' '
			i++
		case ch == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			ch = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 3
		default:
			i++
		}
		if j >= len(want) || want[j] != ch {
			return false
		}
	}
	return j == len(want)
}

func isHex(ch byte) bool {
	return (ch >= '0' && ch <= '9') || (ch|0x20 >= 'a' && ch|0x20 <= 'f')
}

func unhex(ch byte) byte {
	if ch <= '9' {
		return ch - '0'
	}
	return (ch | 0x20) - 'a' + 10
}
