package route

import (
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

// FieldError is an invalid match field. Field is relative to the match,
// in the resource's JSON spelling ("headers[1].match.regex"), so the
// caller can prefix the route's path.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// CompileHTTPRouteMatch compiles a VirtualRouter httpRoute or http2Route
// match. Exactly one of prefix and path must be set.
//
// Prefix is a plain string prefix of the path, as in App Mesh: "/v1"
// matches "/v1/chat" and also "/v10"; write "/v1/" to stop at a segment.
// Regexes (path, headers, model) must match the whole value. Header names
// are case-insensitive; a header without match only has to be present,
// and invert negates the header's whole result (an absent header matches
// an inverted condition). A range match parses the value as a decimal
// integer in [start, end). A query parameter without match only has to be
// present; names and values are compared form-decoded, against the first
// occurrence of the name.
func CompileHTTPRouteMatch(m *v1alpha1.HTTPRouteMatch) (*Matcher, error) {
	if m == nil {
		return nil, fieldErr("match", "is required")
	}
	var b builder
	if m.Prefix == nil && m.Path == nil {
		return nil, fieldErr("prefix", "one of prefix and path is required")
	}
	b.path(m.Prefix, m.Path)
	b.headers(m.Headers)
	b.method(m.Method)
	if m.Scheme != nil {
		switch s := strings.ToLower(string(*m.Scheme)); s {
		case "http", "https":
			b.add(cond{src: srcScheme, v: valueMatch{op: opExact, s: s}})
		default:
			b.fail("scheme", "must be http or https, not %q", *m.Scheme)
		}
	}
	b.query(m.QueryParameters)
	b.port(m.Port)
	if mm := m.Model; mm != nil {
		v, ok := b.value("model", mm.Exact, mm.Prefix, nil, mm.Regex, nil, false)
		if ok {
			b.m.model = &v
		}
	}
	return b.build()
}

// CompileGRPCRouteMatch compiles a VirtualRouter grpcRoute match. gRPC
// calls have the path /package.Service/Method: serviceName alone matches
// every method of the service (the path starts with /serviceName/), with
// methodName only that method (the path is /serviceName/methodName).
// Without either, every call matches. Metadata are matched like HTTP
// headers.
func CompileGRPCRouteMatch(m *v1alpha1.GRPCRouteMatch) (*Matcher, error) {
	if m == nil {
		return nil, fieldErr("match", "is required")
	}
	var b builder
	b.grpcService(m.ServiceName, m.MethodName)
	b.metadata(m.Metadata)
	b.port(m.Port)
	return b.build()
}

// CompileHTTPGatewayRouteMatch compiles a GatewayRoute httpRoute or
// http2Route match. Prefix, path, headers and query behave as in
// CompileHTTPRouteMatch; without prefix or path every path matches. The
// hostname is compared case-insensitively with Request.Host (port
// removed): exact, or suffix as a plain string suffix (".example.com"
// matches "api.example.com" but not "example.com").
func CompileHTTPGatewayRouteMatch(m *v1alpha1.HTTPGatewayRouteMatch) (*Matcher, error) {
	if m == nil {
		return nil, fieldErr("match", "is required")
	}
	var b builder
	b.path(m.Prefix, m.Path)
	b.hostname(m.Hostname)
	b.headers(m.Headers)
	b.method(m.Method)
	b.query(m.QueryParameters)
	b.port(m.Port)
	return b.build()
}

// CompileGRPCGatewayRouteMatch compiles a GatewayRoute grpcRoute match:
// serviceName as in CompileGRPCRouteMatch, hostname as in
// CompileHTTPGatewayRouteMatch, metadata like headers.
func CompileGRPCGatewayRouteMatch(m *v1alpha1.GRPCGatewayRouteMatch) (*Matcher, error) {
	if m == nil {
		return nil, fieldErr("match", "is required")
	}
	var b builder
	b.grpcService(m.ServiceName, nil)
	b.hostname(m.Hostname)
	b.metadata(m.Metadata)
	b.port(m.Port)
	return b.build()
}

// builder collects conditions and the first error.
type builder struct {
	m   Matcher
	err error
}

func (b *builder) fail(field, format string, args ...any) {
	if b.err == nil {
		b.err = fieldErr(field, format, args...)
	}
}

func (b *builder) add(c cond) { b.m.conds = append(b.m.conds, c) }

// build moves the port, method and literal path conditions into the
// Matcher's fields and orders the rest by cost, stably, so that equal-cost
// conditions keep the order of the spec.
func (b *builder) build() (*Matcher, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := b.m
	m.conds = nil
	for _, c := range b.m.conds {
		switch {
		case c.src == srcPort && m.port == 0:
			m.port = c.port
		case c.src == srcMethod && m.method == "":
			m.method = c.v.s
		case c.src == srcPath && (c.v.op == opPrefix || c.v.op == opExact) && m.pathOp == opPresent:
			m.pathOp, m.path = c.v.op, c.v.s
		default:
			m.conds = append(m.conds, c)
		}
	}
	slices.SortStableFunc(m.conds, func(x, y cond) int { return x.cost() - y.cost() })
	return &m, nil
}

func (b *builder) path(prefix *string, path *v1alpha1.HTTPPathMatch) {
	if prefix != nil && path != nil {
		b.fail("path", "set only one of prefix and path")
		return
	}
	if prefix != nil {
		p := *prefix
		if !strings.HasPrefix(p, "/") {
			b.fail("prefix", "must start with /, not %q", p)
			return
		}
		b.m.prefixLen = len(p)
		if p != "/" { // "/" matches every path
			b.add(cond{src: srcPath, v: valueMatch{op: opPrefix, s: p}})
		}
		return
	}
	if path == nil {
		return
	}
	if (path.Exact == nil) == (path.Regex == nil) {
		b.fail("path", "set exactly one of exact and regex")
		return
	}
	if path.Exact != nil {
		if !strings.HasPrefix(*path.Exact, "/") {
			b.fail("path.exact", "must start with /, not %q", *path.Exact)
			return
		}
		b.add(cond{src: srcPath, v: valueMatch{op: opExact, s: *path.Exact}})
		return
	}
	if re, ok := b.regex("path.regex", *path.Regex); ok {
		b.add(cond{src: srcPath, v: valueMatch{op: opRegex, s: *path.Regex, re: re}})
	}
}

// regex compiles expr anchored to the whole value.
func (b *builder) regex(field, expr string) (*regexp.Regexp, bool) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		// Compile the bare expression for a message about what was written.
		if _, e := regexp.Compile(expr); e != nil {
			err = e
		}
		b.fail(field, "invalid regex: %v", err)
		return nil, false
	}
	return re, true
}

// value compiles a one-of string match; with none set it is a presence
// match if presence is allowed.
func (b *builder) value(field string, exact, prefix, suffix, regex *string, rng *v1alpha1.MatchRange, presence bool) (valueMatch, bool) {
	var v valueMatch
	n := 0
	set := func(o op, s *string, name string) {
		if s == nil {
			return
		}
		n++
		v.op, v.s = o, *s
		if *s == "" {
			b.fail(field+"."+name, "must not be empty")
		}
	}
	set(opExact, exact, "exact")
	set(opPrefix, prefix, "prefix")
	set(opSuffix, suffix, "suffix")
	set(opRegex, regex, "regex")
	if rng != nil {
		n++
		v.op, v.lo, v.hi = opRange, rng.Start, rng.End
		if rng.End <= rng.Start {
			b.fail(field+".range", "end (%d) must be greater than start (%d)", rng.End, rng.Start)
		}
	}
	switch {
	case n > 1:
		b.fail(field, "set exactly one match type")
		return v, false
	case n == 0 && !presence:
		b.fail(field, "set one match type")
		return v, false
	case n == 0:
		return valueMatch{op: opPresent}, true
	}
	if v.op == opRegex {
		re, ok := b.regex(field+".regex", v.s)
		if !ok {
			return v, false
		}
		v.re = re
	}
	return v, b.err == nil
}

type headerSpec struct {
	name   string
	match  *v1alpha1.HeaderMatchMethod
	invert *bool
}

func (b *builder) headers(hs []v1alpha1.HTTPHeaderMatch) {
	for i, h := range hs {
		b.header(fmt.Sprintf("headers[%d]", i), headerSpec{h.Name, h.Match, h.Invert})
	}
}

func (b *builder) metadata(ms []v1alpha1.GRPCRouteMetadata) {
	for i, h := range ms {
		b.header(fmt.Sprintf("metadata[%d]", i), headerSpec{h.Name, h.Match, h.Invert})
	}
}

func (b *builder) header(field string, h headerSpec) {
	if h.name == "" {
		b.fail(field+".name", "is required")
		return
	}
	if !validHeaderName(h.name) {
		b.fail(field+".name", "%q is not a valid header name (pseudo-headers such as :authority are not supported)", h.name)
		return
	}
	c := cond{src: srcHeader, name: textproto.CanonicalMIMEHeaderKey(h.name), invert: h.invert != nil && *h.invert}
	c.v = valueMatch{op: opPresent}
	if mm := h.match; mm != nil {
		v, ok := b.value(field+".match", mm.Exact, mm.Prefix, mm.Suffix, mm.Regex, mm.Range, false)
		if !ok {
			return
		}
		c.v = v
	}
	b.add(c)
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(ch)) {
			return false
		}
	}
	return true
}

var methods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

func (b *builder) method(m *v1alpha1.HTTPMethod) {
	if m == nil {
		return
	}
	if !slices.Contains(methods, string(*m)) {
		b.fail("method", "must be one of %s, not %q", strings.Join(methods, ", "), *m)
		return
	}
	b.add(cond{src: srcMethod, v: valueMatch{op: opExact, s: string(*m)}})
}

func (b *builder) query(qs []v1alpha1.HTTPQueryParameter) {
	for i, q := range qs {
		field := fmt.Sprintf("queryParameters[%d]", i)
		if q.Name == "" {
			b.fail(field+".name", "is required")
			continue
		}
		c := cond{src: srcQuery, name: q.Name, v: valueMatch{op: opPresent}}
		if q.Match != nil {
			if q.Match.Exact == nil {
				b.fail(field+".match", "set exact, or omit match to require presence only")
				continue
			}
			c.v = valueMatch{op: opExact, s: *q.Match.Exact}
		}
		b.add(c)
	}
}

func (b *builder) port(p *v1alpha1.PortNumber) {
	if p == nil {
		return
	}
	if *p < 1 || *p > 65535 {
		b.fail("port", "must be between 1 and 65535, not %d", *p)
		return
	}
	b.add(cond{src: srcPort, port: int(*p)})
}

func (b *builder) hostname(h *v1alpha1.GatewayRouteHostnameMatch) {
	if h == nil {
		return
	}
	if (h.Exact == nil) == (h.Suffix == nil) {
		b.fail("hostname", "set exactly one of exact and suffix")
		return
	}
	field, o, s := "hostname.exact", opExact, h.Exact
	if h.Suffix != nil {
		field, o, s = "hostname.suffix", opSuffix, h.Suffix
	}
	if *s == "" {
		b.fail(field, "must not be empty")
		return
	}
	b.add(cond{src: srcHost, v: valueMatch{op: o, s: strings.ToLower(*s)}})
}

func (b *builder) grpcService(service, method *string) {
	if method != nil && service == nil {
		b.fail("methodName", "needs serviceName")
		return
	}
	if service == nil {
		return
	}
	if *service == "" || strings.Contains(*service, "/") {
		b.fail("serviceName", "must be a fully qualified service name such as package.Service, not %q", *service)
		return
	}
	if method == nil {
		b.add(cond{src: srcPath, v: valueMatch{op: opPrefix, s: "/" + *service + "/"}})
		return
	}
	if *method == "" || strings.Contains(*method, "/") {
		b.fail("methodName", "must be a method name, not %s", strconv.Quote(*method))
		return
	}
	b.add(cond{src: srcPath, v: valueMatch{op: opExact, s: "/" + *service + "/" + *method}})
}
