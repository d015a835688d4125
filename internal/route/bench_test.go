package route

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

// seedTable has the seed mesh's route shapes and a few more, ten in all.
func seedTable(tb testing.TB) *Table[string] {
	post, get := ptr(v1alpha1.HTTPMethod("POST")), ptr(v1alpha1.HTTPMethod("GET"))
	type r struct {
		name string
		prio int64
		m    v1alpha1.HTTPRouteMatch
	}
	routes := []r{
		{"tenant-acme", 5, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Headers: []v1alpha1.HTTPHeaderMatch{
			header("x-tenant", &v1alpha1.HeaderMatchMethod{Exact: ptr("acme")}, false)}}},
		{"debug", 6, v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: []v1alpha1.HTTPHeaderMatch{header("x-debug", nil, false)}}},
		{"llama-canary", 10, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Method: post, Model: &v1alpha1.ModelMatch{Exact: ptr("llama-3.1-8b-instruct")}}},
		{"mistral", 11, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Method: post, Model: &v1alpha1.ModelMatch{Exact: ptr("mistral-7b-instruct")}}},
		{"qwen", 12, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Method: post, Model: &v1alpha1.ModelMatch{Prefix: ptr("Qwen/")}}},
		{"models", 20, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/models"), Method: get}},
		{"embeddings", 30, v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr("/v1/embeddings")}, Method: post}},
		{"azure", 40, v1alpha1.HTTPRouteMatch{Prefix: ptr("/openai/"), QueryParameters: []v1alpha1.HTTPQueryParameter{
			{Name: "api-version", Match: &v1alpha1.QueryMatchMethod{Exact: ptr("2024-06-01")}}}}},
		{"health", 50, v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr("/health")}, Method: get}},
		{"default", 1000, v1alpha1.HTTPRouteMatch{Prefix: ptr("/")}},
	}
	var entries []Entry[string]
	for _, rt := range routes {
		m, err := CompileHTTPRouteMatch(&rt.m)
		if err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, Entry[string]{Name: rt.name, Priority: rt.prio, HasPriority: true, Matcher: m, Value: rt.name})
	}
	return NewTable(entries)
}

// fixedModel is a ModelSource with a parsed model.
type fixedModel string

func (f fixedModel) Model() (string, error) { return string(f), nil }

func seedRequests() map[string]*Request {
	base := func(method, path, model string) *Request {
		return &Request{Method: method, Path: path, Host: "ai-api-service.local", Scheme: "http", Port: 8080,
			Header: http.Header{"Content-Type": {"application/json"}, "User-Agent": {"OpenAI/Python 1.54.0"}},
			Model:  fixedModel(model)}
	}
	tenant := base("POST", "/v1/chat/completions", "llama-3.1-8b-instruct")
	tenant.Header.Set("X-Tenant", "acme")
	azure := base("POST", "/openai/deployments/x/chat/completions", "")
	azure.RawQuery = "api-version=2024-06-01"
	return map[string]*Request{
		"llama":   base("POST", "/v1/chat/completions", "llama-3.1-8b-instruct"),
		"qwen":    base("POST", "/v1/chat/completions", "Qwen/Qwen2.5-7B-Instruct"),
		"models":  base("GET", "/v1/models", ""),
		"tenant":  tenant,
		"azure":   azure,
		"default": base("GET", "/favicon.ico", ""),
	}
}

// forget clears what a Request caches, as a new request would start.
func forget(r *Request) {
	r.modelDone, r.model = false, ""
	r.query.parsed, r.query.n = false, 0
}

func benchTable(b *testing.B, tab *Table[string], r *Request, want string) {
	b.ReportAllocs()
	for b.Loop() {
		forget(r)
		e, ok, err := tab.Match(r)
		if err != nil || !ok || e.Value != want {
			b.Fatalf("matched %v, %v, %v; want %s", e, ok, err, want)
		}
	}
}

func BenchmarkTable10(b *testing.B) {
	tab := seedTable(b)
	reqs := seedRequests()
	for _, c := range []struct{ req, want string }{
		{"llama", "llama-canary"}, {"qwen", "qwen"}, {"models", "models"},
		{"tenant", "tenant-acme"}, {"azure", "azure"}, {"default", "default"},
	} {
		b.Run(c.req, func(b *testing.B) { benchTable(b, tab, reqs[c.req], c.want) })
	}
}

// BenchmarkTable1000 is the worst case of 1000 prefix-only routes: the
// request matches the last one.
func BenchmarkTable1000(b *testing.B) {
	tab := prefixTable(b, 1000)
	r := &Request{Method: "GET", Path: "/svc-0999/v1/chat/completions", Port: 8080}
	b.Run("last", func(b *testing.B) { benchTable(b, tab, r, "/svc-0999/") })
	b.Run("last-no-index", func(b *testing.B) {
		scan := *tab
		scan.index = nil
		benchTable(b, &scan, r, "/svc-0999/")
	})
}

// prefixTable has n prefix-only routes /svc-0000/, /svc-0001/, ...
func prefixTable(tb testing.TB, n int) *Table[string] {
	entries := make([]Entry[string], n)
	for i := range entries {
		name := fmt.Sprintf("/svc-%04d/", i)
		m, err := CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Prefix: ptr(name)})
		if err != nil {
			tb.Fatal(err)
		}
		entries[i] = Entry[string]{Name: name, Matcher: m, Value: name}
	}
	return NewTable(entries)
}

func BenchmarkHeaderRegex(b *testing.B) {
	m, err := CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Prefix: ptr("/"), Headers: []v1alpha1.HTTPHeaderMatch{
		header("User-Agent", &v1alpha1.HeaderMatchMethod{Regex: ptr(`OpenAI/(Python|Node) 1\.[0-9]+\.[0-9]+`)}, false),
	}})
	if err != nil {
		b.Fatal(err)
	}
	r := seedRequests()["llama"]
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := m.Match(r); !ok {
			b.Fatal("no match")
		}
	}
}
