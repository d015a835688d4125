package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func TestCompileErrors(t *testing.T) {
	hm := func(mm v1alpha1.HeaderMatchMethod) []v1alpha1.HTTPHeaderMatch {
		return []v1alpha1.HTTPHeaderMatch{{Name: "X-Ok"}, {Name: "X-A", Match: &mm}}
	}
	tests := []struct {
		name    string
		compile func() (*Matcher, error)
		field   string
		reason  string
	}{
		{"nil http", func() (*Matcher, error) { return CompileHTTPRouteMatch(nil) }, "match", "required"},
		{"nil grpc", func() (*Matcher, error) { return CompileGRPCRouteMatch(nil) }, "match", "required"},
		{"nil gateway", func() (*Matcher, error) { return CompileHTTPGatewayRouteMatch(nil) }, "match", "required"},
		{"nil grpc gateway", func() (*Matcher, error) { return CompileGRPCGatewayRouteMatch(nil) }, "match", "required"},
		{"no path", compileHTTP(v1alpha1.HTTPRouteMatch{}), "prefix", "one of prefix and path"},
		{"prefix and path", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Path: &v1alpha1.HTTPPathMatch{Exact: ptr("/a")}}), "path", "only one"},
		{"relative prefix", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("v1")}), "prefix", "must start with /"},
		{"empty path", compileHTTP(v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{}}), "path", "exactly one"},
		{"relative exact", compileHTTP(v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr("a")}}), "path.exact", "must start with /"},
		{"bad path regex", compileHTTP(v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr("/v1/(")}}), "path.regex", "missing closing )"},
		{"perl regex", compileHTTP(v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr(`/(?=x)`)}}), "path.regex", "invalid regex"},
		{"header name", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: []v1alpha1.HTTPHeaderMatch{{Name: ""}}}), "headers[0].name", "required"},
		{"pseudo header", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: []v1alpha1.HTTPHeaderMatch{{Name: ":authority"}}}), "headers[0].name", "pseudo-headers"},
		{"header no match type", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: hm(v1alpha1.HeaderMatchMethod{})}), "headers[1].match", "set one match type"},
		{"header two match types", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: hm(v1alpha1.HeaderMatchMethod{Exact: ptr("a"), Prefix: ptr("b")})}), "headers[1].match", "exactly one"},
		{"header empty exact", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: hm(v1alpha1.HeaderMatchMethod{Exact: ptr("")})}), "headers[1].match.exact", "empty"},
		{"header bad regex", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: hm(v1alpha1.HeaderMatchMethod{Regex: ptr("[a-")})}), "headers[1].match.regex", "invalid regex"},
		{"header empty range", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: hm(v1alpha1.HeaderMatchMethod{Range: &v1alpha1.MatchRange{Start: 5, End: 5}})}), "headers[1].match.range", "greater than start"},
		{"method", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Method: ptr(v1alpha1.HTTPMethod("post"))}), "method", "must be one of"},
		{"scheme", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Scheme: ptr(v1alpha1.URLScheme("ftp"))}), "scheme", "http or https"},
		{"query name", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{{}}}), "queryParameters[0].name", "required"},
		{"query empty match", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{{Name: "a", Match: &v1alpha1.QueryMatchMethod{}}}}), "queryParameters[0].match", "set exact"},
		{"port", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Port: ptr(v1alpha1.PortNumber(0))}), "port", "between 1 and 65535"},
		{"model none", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Model: &v1alpha1.ModelMatch{}}), "model", "set one match type"},
		{"model two", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Model: &v1alpha1.ModelMatch{Exact: ptr("a"), Regex: ptr("b")}}), "model", "exactly one"},
		{"model regex", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Model: &v1alpha1.ModelMatch{Regex: ptr("(")}}), "model.regex", "invalid regex"},
		{"grpc method without service", compileGRPC(v1alpha1.GRPCRouteMatch{MethodName: ptr("Generate")}), "methodName", "needs serviceName"},
		{"grpc service slash", compileGRPC(v1alpha1.GRPCRouteMatch{ServiceName: ptr("a/B")}), "serviceName", "fully qualified"},
		{"grpc empty service", compileGRPC(v1alpha1.GRPCRouteMatch{ServiceName: ptr("")}), "serviceName", "fully qualified"},
		{"grpc method slash", compileGRPC(v1alpha1.GRPCRouteMatch{ServiceName: ptr("a.B"), MethodName: ptr("x/y")}), "methodName", "method name"},
		{"grpc metadata", compileGRPC(v1alpha1.GRPCRouteMatch{Metadata: []v1alpha1.GRPCRouteMetadata{{Name: "a b"}}}), "metadata[0].name", "not a valid header name"},
		{"hostname both", func() (*Matcher, error) {
			return CompileHTTPGatewayRouteMatch(&v1alpha1.HTTPGatewayRouteMatch{Hostname: &v1alpha1.GatewayRouteHostnameMatch{Exact: ptr("a"), Suffix: ptr("b")}})
		}, "hostname", "exactly one"},
		{"hostname empty", func() (*Matcher, error) {
			return CompileGRPCGatewayRouteMatch(&v1alpha1.GRPCGatewayRouteMatch{Hostname: &v1alpha1.GatewayRouteHostnameMatch{Suffix: ptr("")}})
		}, "hostname.suffix", "empty"},
		{"first error reported", compileHTTP(v1alpha1.HTTPRouteMatch{Prefix: ptr("x"), Port: ptr(v1alpha1.PortNumber(0))}), "prefix", "must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.compile()
			if err == nil {
				t.Fatalf("compiled %s, want an error", m)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FieldError", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("error %q, want field %q and reason containing %q", err, tt.field, tt.reason)
			}
			if m != nil {
				t.Errorf("Matcher %v returned with an error", m)
			}
		})
	}
}

func compileHTTP(m v1alpha1.HTTPRouteMatch) func() (*Matcher, error) {
	return func() (*Matcher, error) { return CompileHTTPRouteMatch(&m) }
}

func compileGRPC(m v1alpha1.GRPCRouteMatch) func() (*Matcher, error) {
	return func() (*Matcher, error) { return CompileGRPCRouteMatch(&m) }
}

// TestString checks the evaluation order: cheap conditions first, the
// query, regexes, and the model last, whatever the spec's order.
func TestString(t *testing.T) {
	m := mustHTTP(t, v1alpha1.HTTPRouteMatch{
		Model:           &v1alpha1.ModelMatch{Regex: ptr("llama-.*")},
		Headers:         []v1alpha1.HTTPHeaderMatch{header("x-version", &v1alpha1.HeaderMatchMethod{Regex: ptr("v[0-9]+")}, false), header("x-debug", nil, true), header("x-prio", &v1alpha1.HeaderMatchMethod{Range: &v1alpha1.MatchRange{Start: 0, End: 3}}, false)},
		QueryParameters: []v1alpha1.HTTPQueryParameter{{Name: "v", Match: &v1alpha1.QueryMatchMethod{Exact: ptr("1")}}},
		Prefix:          ptr("/v1/"),
		Scheme:          ptr(v1alpha1.URLScheme("https")),
		Method:          ptr(v1alpha1.HTTPMethod("POST")),
		Port:            ptr(v1alpha1.PortNumber(8080)),
	})
	const want = `port == 8080 && method == "POST" && path prefix "/v1/" && scheme == "https" && ` +
		`!(header "X-Debug" present) && header "X-Prio" range [0, 3) && query "v" exact "1" && ` +
		`header "X-Version" regex "v[0-9]+" && model regex "llama-.*"`
	if got := m.String(); got != want {
		t.Errorf("String()\n got %s\nwant %s", got, want)
	}
	if got := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/")}).String(); got != "any" {
		t.Errorf("String() of prefix / = %q, want any", got)
	}
	g, _ := CompileGRPCRouteMatch(&v1alpha1.GRPCRouteMatch{ServiceName: ptr("a.B"), MethodName: ptr("C")})
	if got := g.String(); got != `path exact "/a.B/C"` {
		t.Errorf("gRPC String() = %s", got)
	}
}
