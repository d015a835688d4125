package route

import (
	"net/http"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func TestPathMatch(t *testing.T) {
	path := func(p string) *Request { return with(func(r *Request) { r.Path = p }) }
	t.Run("prefix", func(t *testing.T) {
		runMatch(t, mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1")}), []matchCase{
			{"same", path("/v1"), true},
			{"below", path("/v1/chat"), true},
			{"plain string prefix", path("/v10"), true},
			{"other", path("/v2/chat"), false},
			{"case-sensitive", path("/V1/chat"), false},
			{"shorter", path("/v"), false},
		})
	})
	t.Run("root prefix", func(t *testing.T) {
		m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/")})
		runMatch(t, m, []matchCase{{"any", path("/anything"), true}, {"root", path("/"), true}})
		if m.PrefixLen() != 1 {
			t.Errorf("PrefixLen = %d, want 1", m.PrefixLen())
		}
	})
	t.Run("exact", func(t *testing.T) {
		runMatch(t, mustHTTP(t, v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr("/v1/models")}}), []matchCase{
			{"same", path("/v1/models"), true},
			{"longer", path("/v1/models/x"), false},
			{"trailing slash", path("/v1/models/"), false},
		})
	})
	t.Run("regex anchored", func(t *testing.T) {
		runMatch(t, mustHTTP(t, v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr(`/v1/(chat/)?completions`)}}), []matchCase{
			{"chat", path("/v1/chat/completions"), true},
			{"completions", path("/v1/completions"), true},
			{"suffix extra", path("/v1/completions/x"), false},
			{"prefix extra", path("/x/v1/completions"), false},
		})
	})
	t.Run("regex alternation anchored as a whole", func(t *testing.T) {
		runMatch(t, mustHTTP(t, v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr(`/a|/b`)}}), []matchCase{
			{"a", path("/a"), true},
			{"b", path("/b"), true},
			{"a prefix", path("/ab"), false},
			{"b suffix", path("/xb"), false},
		})
	})
}

func TestPrefixLen(t *testing.T) {
	tests := []struct {
		m    v1alpha1.HTTPRouteMatch
		want int
	}{
		{v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/")}, 4},
		{v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr("/v1/models")}}, 0},
		{v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr("/v1/.*")}}, 0},
	}
	for _, tt := range tests {
		if got := mustHTTP(t, tt.m).PrefixLen(); got != tt.want {
			t.Errorf("PrefixLen = %d, want %d", got, tt.want)
		}
	}
	var nilM *Matcher
	if nilM.PrefixLen() != 0 || nilM.NeedsModel() {
		t.Error("nil Matcher: want PrefixLen 0, NeedsModel false")
	}
}

func TestHeaderMatch(t *testing.T) {
	hdr := func(kv ...string) *Request {
		return with(func(r *Request) {
			for i := 0; i < len(kv); i += 2 {
				r.Header[kv[i]] = append(r.Header[kv[i]], kv[i+1])
			}
		})
	}
	prefix := func(h ...v1alpha1.HTTPHeaderMatch) *Matcher {
		return mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: h})
	}
	tests := []struct {
		name  string
		m     *Matcher
		cases []matchCase
	}{
		{"exact, name case-insensitive", prefix(header("x-TENANT", &v1alpha1.HeaderMatchMethod{Exact: ptr("acme")}, false)), []matchCase{
			{"equal", hdr("X-Tenant", "acme"), true},
			{"value case-sensitive", hdr("X-Tenant", "ACME"), false},
			{"absent", hdr(), false},
			{"empty", hdr("X-Tenant", ""), false},
		}},
		{"prefix", prefix(header("x-user", &v1alpha1.HeaderMatchMethod{Prefix: ptr("team-")}, false)), []matchCase{
			{"has", hdr("X-User", "team-a"), true},
			{"only prefix", hdr("X-User", "team-"), true},
			{"no", hdr("X-User", "a-team-"), false},
		}},
		{"suffix", prefix(header("X-User", &v1alpha1.HeaderMatchMethod{Suffix: ptr("@example.com")}, false)), []matchCase{
			{"has", hdr("X-User", "a@example.com"), true},
			{"no", hdr("X-User", "a@example.com.evil"), false},
		}},
		{"regex anchored", prefix(header("X-Version", &v1alpha1.HeaderMatchMethod{Regex: ptr(`v[0-9]+`)}, false)), []matchCase{
			{"match", hdr("X-Version", "v12"), true},
			{"partial", hdr("X-Version", "xv12"), false},
			{"trailing", hdr("X-Version", "v12-beta"), false},
			{"absent", hdr(), false},
		}},
		{"range", prefix(header("X-Priority", &v1alpha1.HeaderMatchMethod{Range: &v1alpha1.MatchRange{Start: 1, End: 5}}, false)), []matchCase{
			{"start inclusive", hdr("X-Priority", "1"), true},
			{"inside", hdr("X-Priority", "4"), true},
			{"end exclusive", hdr("X-Priority", "5"), false},
			{"below", hdr("X-Priority", "0"), false},
			{"negative", hdr("X-Priority", "-3"), false},
			{"not a number", hdr("X-Priority", "two"), false},
			{"float", hdr("X-Priority", "2.5"), false},
			{"spaces", hdr("X-Priority", " 2"), false},
			{"absent", hdr(), false},
		}},
		{"negative range", prefix(header("X-Offset", &v1alpha1.HeaderMatchMethod{Range: &v1alpha1.MatchRange{Start: -10, End: 0}}, false)), []matchCase{
			{"-10", hdr("X-Offset", "-10"), true},
			{"-1", hdr("X-Offset", "-1"), true},
			{"0", hdr("X-Offset", "0"), false},
		}},
		{"presence", prefix(header("X-Debug", nil, false)), []matchCase{
			{"present", hdr("X-Debug", "1"), true},
			{"present empty", hdr("X-Debug", ""), true},
			{"absent", hdr(), false},
		}},
		{"inverted presence", prefix(header("X-Debug", nil, true)), []matchCase{
			{"present", hdr("X-Debug", "1"), false},
			{"absent", hdr(), true},
		}},
		{"inverted exact", prefix(header("X-Tenant", &v1alpha1.HeaderMatchMethod{Exact: ptr("acme")}, true)), []matchCase{
			{"equal", hdr("X-Tenant", "acme"), false},
			{"other", hdr("X-Tenant", "other"), true},
			{"absent matches", hdr(), true},
		}},
		{"inverted range", prefix(header("X-Priority", &v1alpha1.HeaderMatchMethod{Range: &v1alpha1.MatchRange{Start: 0, End: 10}}, true)), []matchCase{
			{"inside", hdr("X-Priority", "3"), false},
			{"outside", hdr("X-Priority", "10"), true},
			{"garbage", hdr("X-Priority", "x"), true},
		}},
		{"repeated header joined", prefix(header("X-Tag", &v1alpha1.HeaderMatchMethod{Exact: ptr("a,b")}, false)), []matchCase{
			{"two values", hdr("X-Tag", "a", "X-Tag", "b"), true},
			{"one value", hdr("X-Tag", "a"), false},
		}},
		{"all headers must hold", prefix(
			header("X-A", &v1alpha1.HeaderMatchMethod{Exact: ptr("1")}, false),
			header("X-B", nil, true),
		), []matchCase{
			{"both", hdr("X-A", "1"), true},
			{"second fails", hdr("X-A", "1", "X-B", "x"), false},
			{"first fails", hdr("X-A", "2"), false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatch(t, tt.m, tt.cases) })
	}
}

func TestMethodSchemePort(t *testing.T) {
	m := mustHTTP(t, v1alpha1.HTTPRouteMatch{
		Prefix: ptr("/"),
		Method: ptr(v1alpha1.HTTPMethod("POST")),
		Scheme: ptr(v1alpha1.URLScheme("https")),
		Port:   ptr(v1alpha1.PortNumber(8443)),
	})
	ok := func(r *Request) { r.Scheme, r.Port = "https", 8443 }
	runMatch(t, m, []matchCase{
		{"all", with(ok), true},
		{"method", with(func(r *Request) { ok(r); r.Method = "GET" }), false},
		{"method case", with(func(r *Request) { ok(r); r.Method = "post" }), false},
		{"scheme", with(func(r *Request) { ok(r); r.Scheme = "http" }), false},
		{"port", with(func(r *Request) { ok(r); r.Port = 8080 }), false},
	})
}

func TestQueryMatch(t *testing.T) {
	q := func(raw string) *Request { return with(func(r *Request) { r.RawQuery = raw }) }
	t.Run("exact", func(t *testing.T) {
		m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{
			{Name: "api-version", Match: &v1alpha1.QueryMatchMethod{Exact: ptr("2024-06-01")}},
		}})
		runMatch(t, m, []matchCase{
			{"equal", q("api-version=2024-06-01"), true},
			{"among others", q("a=1&api-version=2024-06-01&b"), true},
			{"other value", q("api-version=2023"), false},
			{"absent", q("a=1"), false},
			{"no query", q(""), false},
			{"no value", q("api-version"), false},
			{"first occurrence wins", q("api-version=1&api-version=2024-06-01"), false},
			{"percent-encoded value", q("api-version=2024%2D06%2d01"), true},
			{"percent-encoded name", q("api%2Dversion=2024-06-01"), true},
			{"semicolon is not a separator", q("a=1;api-version=2024-06-01"), false},
		})
	})
	t.Run("exact with space", func(t *testing.T) {
		m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{
			{Name: "q", Match: &v1alpha1.QueryMatchMethod{Exact: ptr("a b%")}},
		}})
		runMatch(t, m, []matchCase{
			{"plus", q("q=a+b%25"), true},
			{"%20", q("q=a%20b%25"), true},
			{"bad escape literal", q("q=a+b%"), true},
			{"raw", q("q=a b"), false},
		})
	})
	t.Run("presence", func(t *testing.T) {
		m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{{Name: "debug"}}})
		runMatch(t, m, []matchCase{
			{"with value", q("debug=1"), true},
			{"empty value", q("debug="), true},
			{"bare", q("x&debug"), true},
			{"absent", q("debugx=1&xdebug"), false},
			{"value named debug", q("x=debug"), false},
			{"empty pieces", q("&&debug&&"), true},
		})
	})
	t.Run("many parameters", func(t *testing.T) {
		m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{
			{Name: "p12", Match: &v1alpha1.QueryMatchMethod{Exact: ptr("12")}},
			{Name: "p1"},
		}})
		raw := "p0=0&p1=1&p2=2&p3=3&p4=4&p5=5&p6=6&p7=7&p8=8&p9=9&p10=10&p11=11&p12=12"
		runMatch(t, m, []matchCase{{"beyond inline", q(raw), true}})
	})
}

func TestQueryParsedOnce(t *testing.T) {
	m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), QueryParameters: []v1alpha1.HTTPQueryParameter{{Name: "a"}}})
	r := with(func(r *Request) { r.RawQuery = "a=1" })
	if ok, _ := m.Match(r); !ok {
		t.Fatal("no match")
	}
	r.RawQuery = "b=1" // the cache was filled from the first parse
	if ok, _ := m.Match(r); !ok {
		t.Error("query parsed again")
	}
	r.Reset()
	r.RawQuery, r.Path = "b=1", "/"
	if ok, _ := m.Match(r); ok {
		t.Error("Reset kept the parsed query")
	}
	noQuery := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/")})
	r2 := with(func(r *Request) { r.RawQuery = "a=1" })
	_, _ = noQuery.Match(r2)
	if r2.query.parsed {
		t.Error("query parsed for a route without query conditions")
	}
}

func TestResetKeepsCapacity(t *testing.T) {
	r := &Request{RawQuery: "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10"}
	if _, ok := r.queryParam("j"); !ok {
		t.Fatal("j not found")
	}
	c := cap(r.query.extra)
	r.Reset()
	if cap(r.query.extra) != c || len(r.query.extra) != 0 || r.query.n != 0 || r.query.parsed {
		t.Errorf("after Reset: %+v", r.query)
	}
	if r.Header != nil || r.Method != "" || r.Model != nil || r.modelDone {
		t.Errorf("Reset left fields: %+v", r)
	}
}

func TestModelMatch(t *testing.T) {
	model := func(mm v1alpha1.ModelMatch) *Matcher {
		return mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Model: &mm})
	}
	tests := []struct {
		name  string
		m     *Matcher
		cases []matchCase
	}{
		{"exact", model(v1alpha1.ModelMatch{Exact: ptr("llama-3.1-8b-instruct")}), []matchCase{
			{"equal", chat("llama-3.1-8b-instruct"), true},
			{"longer", chat("llama-3.1-8b-instruct-v2"), false},
			{"missing model", chat(""), false},
		}},
		{"prefix", model(v1alpha1.ModelMatch{Prefix: ptr("llama-")}), []matchCase{
			{"has", chat("llama-3.1-70b"), true},
			{"no", chat("mistral-7b"), false},
		}},
		{"regex anchored", model(v1alpha1.ModelMatch{Regex: ptr(`(meta-)?llama-3\.[0-9]+-.*`)}), []matchCase{
			{"match", chat("llama-3.1-8b"), true},
			{"optional group", chat("meta-llama-3.2-1b"), true},
			{"not anchored at start", chat("x-llama-3.1-8b"), false},
		}},
		{"no body source", model(v1alpha1.ModelMatch{Regex: ptr(`.*`)}), []matchCase{
			{"nil source is model \"\"", with(func(r *Request) { r.Model = nil }), true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatch(t, tt.m, tt.cases) })
	}
}

func TestModelEvaluatedLast(t *testing.T) {
	m := mustHTTP(t, v1alpha1.HTTPRouteMatch{
		Prefix:  ptr("/v1/"),
		Method:  ptr(v1alpha1.HTTPMethod("POST")),
		Headers: []v1alpha1.HTTPHeaderMatch{header("X-Tenant", nil, true)},
		Model:   &v1alpha1.ModelMatch{Exact: ptr("llama")},
	})
	if !m.NeedsModel() {
		t.Fatal("NeedsModel = false")
	}
	tests := []struct {
		name      string
		change    func(r *Request)
		wantMatch bool
		wantCalls int
	}{
		{"all hold", func(*Request) {}, true, 1},
		{"prefix fails", func(r *Request) { r.Path = "/v2/chat" }, false, 0},
		{"method fails", func(r *Request) { r.Method = "GET" }, false, 0},
		{"header fails", func(r *Request) { r.Header.Set("X-Tenant", "a") }, false, 0},
		{"model fails", func(r *Request) { r.Model.(*countingModel).model = "mistral" }, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := chat("llama")
			tt.change(r)
			got, err := m.Match(r)
			if err != nil || got != tt.wantMatch {
				t.Fatalf("Match = %v, %v; want %v", got, err, tt.wantMatch)
			}
			// Asking again uses the request's cached model.
			_, _ = m.Match(r)
			if calls := r.Model.(*countingModel).calls; calls != tt.wantCalls {
				t.Errorf("ModelSource called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestModelErrorPropagated(t *testing.T) {
	m := mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Model: &v1alpha1.ModelMatch{Exact: ptr("llama")}})
	r := chat("llama")
	r.Model = &countingModel{err: errTooLarge}
	ok, err := m.Match(r)
	if ok || err != errTooLarge {
		t.Fatalf("Match = %v, %v; want false, the ModelSource error unchanged", ok, err)
	}
	r.Path = "/health"
	if ok, err := m.Match(r); ok || err != nil {
		t.Errorf("Match with failing prefix = %v, %v; want false, nil", ok, err)
	}
}

func TestGRPCRouteMatch(t *testing.T) {
	call := func(path string) *Request {
		return &Request{Method: "POST", Path: path, Port: 9000, Header: http.Header{"Content-Type": {"application/grpc"}}}
	}
	compile := func(m v1alpha1.GRPCRouteMatch) *Matcher {
		mm, err := CompileGRPCRouteMatch(&m)
		if err != nil {
			t.Fatal(err)
		}
		return mm
	}
	tests := []struct {
		name  string
		m     *Matcher
		cases []matchCase
	}{
		{"service", compile(v1alpha1.GRPCRouteMatch{ServiceName: ptr("inference.v1.Generator")}), []matchCase{
			{"method", call("/inference.v1.Generator/Generate"), true},
			{"other method", call("/inference.v1.Generator/Stream"), true},
			{"other service", call("/inference.v1.Embedder/Embed"), false},
			{"service prefix only", call("/inference.v1.GeneratorX/Generate"), false},
			{"no method segment", call("/inference.v1.Generator"), false},
			{"empty method", call("/inference.v1.Generator/"), true},
			{"extra segment", call("/inference.v1.Generator/a/b"), true},
			{"no leading slash", call("inference.v1.Generator/Generate"), false},
			{"root", call("/"), false},
			{"empty", call(""), false},
		}},
		{"service and method", compile(v1alpha1.GRPCRouteMatch{ServiceName: ptr("inference.v1.Generator"), MethodName: ptr("Generate")}), []matchCase{
			{"exact", call("/inference.v1.Generator/Generate"), true},
			{"other method", call("/inference.v1.Generator/GenerateStream"), false},
			{"extra segment", call("/inference.v1.Generator/Generate/x"), false},
			{"method case", call("/inference.v1.Generator/generate"), false},
			{"double slash", call("//inference.v1.Generator/Generate"), false},
		}},
		{"any call", compile(v1alpha1.GRPCRouteMatch{}), []matchCase{
			{"call", call("/a.B/C"), true},
			{"odd", call("/"), true},
		}},
		{"metadata and port", compile(v1alpha1.GRPCRouteMatch{
			Metadata: []v1alpha1.GRPCRouteMetadata{
				{Name: "x-tenant", Match: &v1alpha1.HeaderMatchMethod{Exact: ptr("acme")}},
				{Name: "x-canary", Invert: ptr(true)},
			},
			Port: ptr(v1alpha1.PortNumber(9000)),
		}), []matchCase{
			{"match", with(func(r *Request) { *r = *call("/a.B/C"); r.Header.Set("X-Tenant", "acme") }), true},
			{"canary", with(func(r *Request) {
				*r = *call("/a.B/C")
				r.Header.Set("X-Tenant", "acme")
				r.Header.Set("X-Canary", "1")
			}), false},
			{"port", with(func(r *Request) { *r = *call("/a.B/C"); r.Header.Set("X-Tenant", "acme"); r.Port = 1 }), false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatch(t, tt.m, tt.cases) })
	}
}

func TestGatewayRouteMatch(t *testing.T) {
	host := func(h string) *Request { return with(func(r *Request) { r.Host = h }) }
	compile := func(m v1alpha1.HTTPGatewayRouteMatch) *Matcher {
		mm, err := CompileHTTPGatewayRouteMatch(&m)
		if err != nil {
			t.Fatal(err)
		}
		return mm
	}
	runMatch(t, compile(v1alpha1.HTTPGatewayRouteMatch{Hostname: &v1alpha1.GatewayRouteHostnameMatch{Exact: ptr("API.Example.com")}}), []matchCase{
		{"exact, case-insensitive", host("api.example.com"), true},
		{"sub", host("x.api.example.com"), false},
	})
	runMatch(t, compile(v1alpha1.HTTPGatewayRouteMatch{Hostname: &v1alpha1.GatewayRouteHostnameMatch{Suffix: ptr(".Example.com")}}), []matchCase{
		{"sub", host("api.example.com"), true},
		{"apex", host("example.com"), false},
		{"other", host("api.example.org"), false},
	})
	m := compile(v1alpha1.HTTPGatewayRouteMatch{
		Prefix:          ptr("/openai/"),
		Method:          ptr(v1alpha1.HTTPMethod("POST")),
		Headers:         []v1alpha1.HTTPHeaderMatch{header("Authorization", &v1alpha1.HeaderMatchMethod{Prefix: ptr("Bearer ")}, false)},
		QueryParameters: []v1alpha1.HTTPQueryParameter{{Name: "v"}},
		Port:            ptr(v1alpha1.PortNumber(8080)),
	})
	ok := func(r *Request) {
		r.Path, r.RawQuery = "/openai/v1/chat", "v=1"
		r.Header.Set("Authorization", "Bearer x")
	}
	runMatch(t, m, []matchCase{
		{"all", with(ok), true},
		{"no auth", with(func(r *Request) { ok(r); r.Header.Del("Authorization") }), false},
		{"no query", with(func(r *Request) { ok(r); r.RawQuery = "" }), false},
		{"path", with(func(r *Request) { ok(r); r.Path = "/v1/chat" }), false},
	})
	if m.PrefixLen() != len("/openai/") {
		t.Errorf("PrefixLen = %d", m.PrefixLen())
	}
	runMatch(t, compile(v1alpha1.HTTPGatewayRouteMatch{}), []matchCase{{"empty match matches all", chat(""), true}})

	g, err := CompileGRPCGatewayRouteMatch(&v1alpha1.GRPCGatewayRouteMatch{
		ServiceName: ptr("a.B"),
		Hostname:    &v1alpha1.GatewayRouteHostnameMatch{Suffix: ptr(".grpc.local")},
	})
	if err != nil {
		t.Fatal(err)
	}
	runMatch(t, g, []matchCase{
		{"match", &Request{Path: "/a.B/C", Host: "x.grpc.local"}, true},
		{"host", &Request{Path: "/a.B/C", Host: "x.http.local"}, false},
		{"service", &Request{Path: "/a.C/C", Host: "x.grpc.local"}, false},
	})
}
