package route

import (
	"regexp"
	"strconv"
	"strings"
)

// source is the part of the request a condition reads.
type source uint8

const (
	srcPort source = iota
	srcMethod
	srcScheme
	srcHost
	srcPath
	srcHeader
	srcQuery
)

// op is how a condition compares a value.
type op uint8

const (
	opPresent op = iota // header or query parameter present
	opExact
	opPrefix
	opSuffix
	opRegex // whole value, RE2
	opRange // integer in [lo, hi)
)

// valueMatch compares one string.
type valueMatch struct {
	op     op
	s      string
	re     *regexp.Regexp
	lo, hi int64
}

func (v *valueMatch) match(s string) bool {
	switch v.op {
	case opExact:
		return s == v.s
	case opPrefix:
		return strings.HasPrefix(s, v.s)
	case opSuffix:
		return strings.HasSuffix(s, v.s)
	case opRegex:
		return v.re.MatchString(s)
	case opRange:
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= v.lo && n < v.hi
	}
	return true // opPresent
}

// cond is one condition of a route. It is a small tagged struct rather
// than an interface so a Matcher's conditions sit in one slice and are
// checked without indirect calls.
type cond struct {
	src    source
	invert bool // headers only: negate the whole result
	port   int
	name   string // canonical header name or decoded query parameter name
	v      valueMatch
}

func (c *cond) match(r *Request) bool {
	switch c.src {
	case srcPort:
		return r.Port == c.port
	case srcMethod:
		return r.Method == c.v.s
	case srcScheme:
		return r.Scheme == c.v.s
	case srcHost:
		return c.v.match(r.Host)
	case srcPath:
		return c.v.match(r.Path)
	case srcHeader:
		vals := r.Header[c.name]
		ok := len(vals) > 0
		if ok && c.v.op != opPresent {
			ok = c.v.match(headerValue(vals))
		}
		return ok != c.invert
	case srcQuery:
		raw, ok := r.queryParam(c.name)
		if ok && c.v.op == opExact {
			ok = formEqual(raw, c.v.s)
		}
		return ok
	}
	return false
}

// headerValue is the value header conditions see: a repeated header's
// values joined with ",", as Envoy does (that case allocates).
func headerValue(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return strings.Join(vals, ",")
}

// cost orders conditions: integer and short string compares first, then
// headers, the query (parsed on first use), and regexes last.
func (c *cond) cost() int {
	switch {
	case c.v.op == opRegex:
		return 5
	case c.src == srcQuery:
		return 4
	case c.src == srcHeader:
		return 3
	case c.src == srcHost || c.src == srcPath:
		return 2
	case c.src == srcMethod || c.src == srcScheme:
		return 1
	}
	return 0
}

// Matcher is a compiled route match: conditions that must all hold,
// cheapest first, and the model condition, evaluated last and only when
// every other condition holds. A nil *Matcher matches every request.
// Matchers are immutable and safe for concurrent use.
//
// The port, method and literal path conditions most routes have are held in
// fields and checked inline; the rest are in conds.
type Matcher struct {
	port      int    // 0: any
	method    string // "": any
	pathOp    op     // opPrefix, opExact, or opPresent for no literal path
	path      string
	conds     []cond
	model     *valueMatch
	prefixLen int
}

// Match reports whether r satisfies every condition. Its only errors are
// those of r.Model, returned unchanged.
func (m *Matcher) Match(r *Request) (bool, error) {
	if m == nil {
		return true, nil
	}
	if m.port != 0 && r.Port != m.port {
		return false, nil
	}
	if m.method != "" && r.Method != m.method {
		return false, nil
	}
	switch m.pathOp {
	case opPrefix:
		if len(r.Path) < len(m.path) || r.Path[:len(m.path)] != m.path {
			return false, nil
		}
	case opExact:
		if r.Path != m.path {
			return false, nil
		}
	}
	for i := range m.conds {
		if !m.conds[i].match(r) {
			return false, nil
		}
	}
	if m.model == nil {
		return true, nil
	}
	model, err := r.modelName()
	if err != nil {
		return false, err
	}
	return m.model.match(model), nil
}

// literal is the path prefix every request the matcher matches starts
// with ("" if none is known); Table's index is keyed by it.
func (m *Matcher) literal() string {
	if m == nil || m.pathOp == opPresent {
		return ""
	}
	return m.path
}

// NeedsModel reports whether matching may read the request body's model.
func (m *Matcher) NeedsModel() bool { return m != nil && m.model != nil }

// PrefixLen is the length of the matched path prefix for a prefix match,
// and 0 otherwise; the gateway's prefix rewrite replaces Path[:PrefixLen].
func (m *Matcher) PrefixLen() int {
	if m == nil {
		return 0
	}
	return m.prefixLen
}

// String describes the conditions in evaluation order, for logs, debug
// endpoints and golden files, e.g.
//
//	port == 8080 && method == "POST" && path prefix "/v1/" && model exact "llama"
func (m *Matcher) String() string {
	var parts []cond
	if m != nil {
		if m.port != 0 {
			parts = append(parts, cond{src: srcPort, port: m.port})
		}
		if m.method != "" {
			parts = append(parts, cond{src: srcMethod, v: valueMatch{op: opExact, s: m.method}})
		}
		if m.pathOp != opPresent {
			parts = append(parts, cond{src: srcPath, v: valueMatch{op: m.pathOp, s: m.path}})
		}
		parts = append(parts, m.conds...)
	}
	if len(parts) == 0 && (m == nil || m.model == nil) {
		return "any"
	}
	var b strings.Builder
	for i := range parts {
		if i > 0 {
			b.WriteString(" && ")
		}
		parts[i].describe(&b)
	}
	if m.model != nil {
		if len(parts) > 0 {
			b.WriteString(" && ")
		}
		b.WriteString("model")
		m.model.describe(&b)
	}
	return b.String()
}

var srcNames = [...]string{
	srcPort: "port", srcMethod: "method", srcScheme: "scheme", srcHost: "host",
	srcPath: "path", srcHeader: "header", srcQuery: "query",
}

func (c *cond) describe(b *strings.Builder) {
	if c.invert {
		b.WriteString("!(")
	}
	b.WriteString(srcNames[c.src])
	switch c.src {
	case srcPort:
		b.WriteString(" == ")
		b.WriteString(strconv.Itoa(c.port))
	case srcMethod, srcScheme:
		b.WriteString(" == ")
		b.WriteString(strconv.Quote(c.v.s))
	case srcHeader, srcQuery:
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(c.name))
		c.v.describe(b)
	default:
		c.v.describe(b)
	}
	if c.invert {
		b.WriteByte(')')
	}
}

var opNames = [...]string{
	opPresent: "present", opExact: "exact", opPrefix: "prefix", opSuffix: "suffix",
	opRegex: "regex", opRange: "range",
}

func (v *valueMatch) describe(b *strings.Builder) {
	b.WriteByte(' ')
	b.WriteString(opNames[v.op])
	switch v.op {
	case opPresent:
	case opRange:
		b.WriteString(" [" + strconv.FormatInt(v.lo, 10) + ", " + strconv.FormatInt(v.hi, 10) + ")")
	default:
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(v.s))
	}
}
