package config

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The enums, as App Mesh (and the CRD schema) spell them.
var (
	protocols          = []string{"http", "http2", "grpc", "tcp"}
	gatewayProtocols   = []string{"http", "http2", "grpc"}
	durationUnits      = []string{"s", "ms"}
	egressFilterTypes  = []string{"ALLOW_ALL", "DROP_ALL"}
	meshIPPreferences  = []string{"IPv4_ONLY", "IPv6_ONLY"}
	ipPreferences      = []string{"IPv4_ONLY", "IPv6_ONLY", "IPv4_PREFERRED", "IPv6_PREFERRED"}
	dnsResponseTypes   = []string{"ENDPOINTS", "LOADBALANCER"}
	tlsModes           = []string{"STRICT", "PERMISSIVE", "DISABLED"}
	httpMethods        = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
	urlSchemes         = []string{"http", "https"}
	httpRetryEvents    = []string{"server-error", "gateway-error", "client-error", "stream-error"}
	tcpRetryEvents     = []string{"connection-error"}
	grpcRetryEvents    = []string{"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}
	enabledDisabled    = []string{"ENABLED", "DISABLED"}
	httpCheckProtocols = []string{"http", "http2"}
)

// Limits of App Mesh's API that aimesh keeps.
const (
	maxMatchString   = 255 // header values, path and regexes
	maxHeaderName    = 50
	maxMatchEntries  = 10 // headers, metadata, query parameters
	maxTargets       = 10 // weighted and fallback targets
	maxHostnameMatch = 253
	maxPriority      = 1000
	maxPort          = 65535
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// enum reports got when it is not one of allowed.
func (o *rep) enum(p *field.Path, got string, allowed []string) bool {
	switch {
	case got == "":
		o.errorf(p, "required: one of %s", strings.Join(allowed, ", "))
	case !contains(allowed, got):
		o.errorf(p, "must be one of %s, got %q", strings.Join(allowed, ", "), got)
	default:
		return true
	}
	return false
}

// between reports got outside [lo, hi].
func (o *rep) between(p *field.Path, got, lo, hi int64) bool {
	if got < lo || got > hi {
		o.errorf(p, "must be between %d and %d, got %d", lo, hi, got)
		return false
	}
	return true
}

// atLeast reports got below lo.
func (o *rep) atLeast(p *field.Path, got, lo int64) bool {
	if got < lo {
		o.errorf(p, "must be at least %d, got %d", lo, got)
		return false
	}
	return true
}

// port reports a port outside 1-65535.
func (o *rep) port(p *field.Path, port v1.PortNumber) bool {
	return o.between(p, int64(port), 1, maxPort)
}

// optPort checks an optional port.
func (o *rep) optPort(p *field.Path, port *v1.PortNumber) bool {
	return port == nil || o.port(p, *port)
}

// length reports a string that is empty (when lo > 0) or too long.
func (o *rep) length(p *field.Path, s string, lo, hi int) bool {
	switch {
	case s == "" && lo > 0:
		o.errorf(p, "required")
	case len(s) < lo || len(s) > hi:
		o.errorf(p, "must be %d to %d characters, got %d", lo, hi, len(s))
	default:
		return true
	}
	return false
}

// entries reports a list with fewer than lo or more than hi entries.
func (o *rep) entries(p *field.Path, n, lo, hi int) bool {
	if n < lo || n > hi {
		if lo == 1 && hi == 1 {
			o.errorf(p, "must have exactly 1 entry, got %d", n)
		} else if lo == hi {
			o.errorf(p, "must have exactly %d entries, got %d", lo, n)
		} else {
			o.errorf(p, "must have %d to %d entries, got %d", lo, hi, n)
		}
		return false
	}
	return true
}

// exactlyOne reports, at p, when not exactly one of the named fields is
// set. It returns whether exactly one is.
func (o *rep) exactlyOne(p *field.Path, names []string, set ...bool) bool {
	var got []string
	for i, s := range set {
		if s {
			got = append(got, names[i])
		}
	}
	switch len(got) {
	case 1:
		return true
	case 0:
		o.errorf(p, "set exactly one of %s (got none)", strings.Join(names, ", "))
	default:
		o.errorf(p, "set exactly one of %s (got %s)", strings.Join(names, ", "), strings.Join(got, " and "))
	}
	return false
}

// duration checks a {value, unit} duration.
func (o *rep) duration(p *field.Path, d v1.Duration) bool {
	if d.Unit == "" && d.Value == 0 {
		o.errorf(p, "required: a duration such as {value: 15, unit: s}")
		return false
	}
	ok := o.enum(p.Child("unit"), string(d.Unit), durationUnits)
	return o.atLeast(p.Child("value"), d.Value, 0) && ok
}

// optDuration checks an optional duration.
func (o *rep) optDuration(p *field.Path, d *v1.Duration) {
	if d != nil {
		o.duration(p, *d)
	}
}

// httpTimeout checks the durations of an HTTP, HTTP/2 or gRPC timeout.
func (o *rep) httpTimeout(p *field.Path, t *v1.HTTPTimeout) {
	if t == nil {
		return
	}
	o.optDuration(p.Child("perRequest"), t.PerRequest)
	o.optDuration(p.Child("idle"), t.Idle)
}

// regex checks a regular expression: 1-255 characters of RE2 syntax.
func (o *rep) regex(p *field.Path, re string) bool {
	if !o.length(p, re, 1, maxMatchString) {
		return false
	}
	if _, err := regexp.Compile(re); err != nil {
		o.errorf(p, "invalid regular expression (RE2 syntax): %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return false
	}
	return true
}

// pathPrefix checks a path prefix to match or rewrite to.
func (o *rep) pathPrefix(p *field.Path, prefix string) {
	if !strings.HasPrefix(prefix, "/") {
		o.errorf(p, `must start with "/", got %q`, prefix)
	}
}

// pathMatch checks path: exact xor regex.
func (o *rep) pathMatch(p *field.Path, m *v1.HTTPPathMatch) {
	if m == nil {
		return
	}
	o.exactlyOne(p, []string{"exact", "regex"}, m.Exact != nil, m.Regex != nil)
	if m.Exact != nil && o.length(p.Child("exact"), *m.Exact, 1, maxMatchString) {
		o.pathPrefix(p.Child("exact"), *m.Exact)
	}
	if m.Regex != nil {
		o.regex(p.Child("regex"), *m.Regex)
	}
}

// headerMatches checks the headers of an HTTP match.
func (o *rep) headerMatches(p *field.Path, hs []v1.HTTPHeaderMatch) {
	if hs == nil {
		return
	}
	o.entries(p, len(hs), 1, maxMatchEntries)
	for i, h := range hs {
		o.headerMatch(p.Index(i), h.Name, h.Match)
	}
}

// metadataMatches checks the metadata of a gRPC match.
func (o *rep) metadataMatches(p *field.Path, ms []v1.GRPCRouteMetadata) {
	if ms == nil {
		return
	}
	o.entries(p, len(ms), 1, maxMatchEntries)
	for i, m := range ms {
		o.headerMatch(p.Index(i), m.Name, m.Match)
	}
}

// headerMatch checks one header (or metadata) match: a name and at most
// one way to match its value.
func (o *rep) headerMatch(p *field.Path, name string, m *v1.HeaderMatchMethod) {
	o.length(p.Child("name"), name, 1, maxHeaderName)
	if m == nil {
		return // the header only has to be present
	}
	mp := p.Child("match")
	o.exactlyOne(mp, []string{"exact", "prefix", "suffix", "regex", "range"},
		m.Exact != nil, m.Prefix != nil, m.Suffix != nil, m.Regex != nil, m.Range != nil)
	for _, s := range []struct {
		name string
		v    *string
	}{{"exact", m.Exact}, {"prefix", m.Prefix}, {"suffix", m.Suffix}} {
		if s.v != nil {
			o.length(mp.Child(s.name), *s.v, 1, maxMatchString)
		}
	}
	if m.Regex != nil {
		o.regex(mp.Child("regex"), *m.Regex)
	}
	if r := m.Range; r != nil && r.Start >= r.End {
		o.errorf(mp.Child("range"), "start must be less than end (the range is [start, end)), got start %d and end %d", r.Start, r.End)
	}
}

// queryParameters checks the query parameters of an HTTP match.
func (o *rep) queryParameters(p *field.Path, qs []v1.HTTPQueryParameter) {
	if qs == nil {
		return
	}
	o.entries(p, len(qs), 1, maxMatchEntries)
	for i, q := range qs {
		o.length(p.Index(i).Child("name"), q.Name, 1, maxMatchString)
	}
}

// method and scheme check the optional enums of an HTTP match.
func (o *rep) method(p *field.Path, m *v1.HTTPMethod) {
	if m != nil {
		o.enum(p, string(*m), httpMethods)
	}
}

func (o *rep) scheme(p *field.Path, s *v1.URLScheme) {
	if s != nil {
		o.enum(p, string(*s), urlSchemes)
	}
}

// hostnameMatch checks a gateway route's hostname: exact xor suffix.
func (o *rep) hostnameMatch(p *field.Path, h *v1.GatewayRouteHostnameMatch) {
	if h == nil {
		return
	}
	o.exactlyOne(p, []string{"exact", "suffix"}, h.Exact != nil, h.Suffix != nil)
	if h.Exact != nil {
		o.length(p.Child("exact"), *h.Exact, 1, maxHostnameMatch)
	}
	if h.Suffix != nil {
		o.length(p.Child("suffix"), *h.Suffix, 1, maxHostnameMatch)
	}
}

// priority checks a route's optional priority.
func (o *rep) priority(p *field.Path, pr *int64) {
	if pr != nil {
		o.between(p, *pr, 0, maxPriority)
	}
}

// an is the indefinite article for a protocol name: "an http", "a grpc".
func an(proto string) string {
	if strings.HasPrefix(proto, "http") {
		return "an " + proto
	}
	return "a " + proto
}

// portList is "8080/http, 8081/grpc", for messages about listeners.
func portList(ls []v1.PortMapping) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%d/%s", l.Port, l.Protocol)
	}
	return strings.Join(parts, ", ")
}
