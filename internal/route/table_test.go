package route

import (
	"slices"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func names[T any](t *Table[T]) []string {
	var out []string
	for _, e := range t.Entries() {
		out = append(out, e.Name)
	}
	return out
}

func TestTableOrder(t *testing.T) {
	p := func(name string, prio int64) Entry[int] {
		return Entry[int]{Name: name, Priority: prio, HasPriority: true}
	}
	n := func(name string) Entry[int] { return Entry[int]{Name: name} }
	tests := []struct {
		name    string
		entries []Entry[int]
		want    []string
	}{
		{"ascending priority", []Entry[int]{p("c", 1000), p("a", 0), p("b", 10)}, []string{"a", "b", "c"}},
		{"ties keep order", []Entry[int]{p("x", 5), p("y", 5), p("a", 1), p("z", 5)}, []string{"a", "x", "y", "z"}},
		{"no priority last, in order", []Entry[int]{n("n1"), p("p", 1000), n("n2"), n("n0")}, []string{"p", "n1", "n2", "n0"}},
		{"zero priority is not no priority", []Entry[int]{n("none"), p("zero", 0)}, []string{"zero", "none"}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.entries)
			tab := NewTable(in)
			if got := names(tab); !slices.Equal(got, tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
			if !slices.EqualFunc(in, tt.entries, func(a, b Entry[int]) bool { return a.Name == b.Name }) {
				t.Error("NewTable reordered its argument")
			}
			if tab.Len() != len(tt.want) {
				t.Errorf("Len = %d", tab.Len())
			}
		})
	}
}

func TestTableMatch(t *testing.T) {
	compile := func(m v1alpha1.HTTPRouteMatch) *Matcher { return mustHTTP(t, m) }
	tab := NewTable([]Entry[string]{
		{Name: "catch-all", Matcher: compile(v1alpha1.HTTPRouteMatch{Prefix: ptr("/")}), Value: "default"},
		{Name: "models", Priority: 20, HasPriority: true, Matcher: compile(v1alpha1.HTTPRouteMatch{
			Prefix: ptr("/v1/models"), Method: ptr(v1alpha1.HTTPMethod("GET")),
		}), Value: "llm-v1"},
		{Name: "llama-canary", Priority: 10, HasPriority: true, Matcher: compile(v1alpha1.HTTPRouteMatch{
			Prefix: ptr("/v1/"), Method: ptr(v1alpha1.HTTPMethod("POST")),
			Model: &v1alpha1.ModelMatch{Exact: ptr("llama-3.1-8b-instruct")},
		}), Value: "canary"},
		{Name: "debug", Priority: 10, HasPriority: true, Matcher: compile(v1alpha1.HTTPRouteMatch{
			Prefix: ptr("/v1/"), Headers: []v1alpha1.HTTPHeaderMatch{header("X-Debug", nil, false)},
		}), Value: "debug"},
	})
	if !tab.NeedsModel() {
		t.Error("NeedsModel = false")
	}
	tests := []struct {
		name      string
		req       *Request
		want      string
		wantCalls int
	}{
		{"model route", chat("llama-3.1-8b-instruct"), "canary", 1},
		{"other model falls through", chat("mistral"), "default", 1},
		{"equal priority in order written", with(func(r *Request) { r.Header.Set("X-Debug", "1") }), "canary", 1},
		{"tie broken by model", with(func(r *Request) {
			r.Header.Set("X-Debug", "1")
			r.Model.(*countingModel).model = "mistral"
		}), "debug", 1},
		{"models without body", with(func(r *Request) { r.Method, r.Path = "GET", "/v1/models" }), "llm-v1", 0},
		{"health", with(func(r *Request) { r.Method, r.Path = "GET", "/health" }), "default", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok, err := tab.Match(tt.req)
			if err != nil || !ok {
				t.Fatalf("Match = %v, %v, %v", e, ok, err)
			}
			if e.Value != tt.want {
				t.Errorf("matched %s (%s), want %s", e.Name, e.Value, tt.want)
			}
			if calls := tt.req.Model.(*countingModel).calls; calls != tt.wantCalls {
				t.Errorf("ModelSource called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestTableNoMatchAndError(t *testing.T) {
	tab := NewTable([]Entry[int]{
		{Name: "a", Matcher: mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/a")})},
		{Name: "m", Matcher: mustHTTP(t, v1alpha1.HTTPRouteMatch{Prefix: ptr("/v1/"), Model: &v1alpha1.ModelMatch{Prefix: ptr("x")}})},
		{Name: "all", Matcher: nil},
	})
	r := chat("")
	r.Model = &countingModel{err: errTooLarge}
	if e, ok, err := tab.Match(r); e != nil || ok || err != errTooLarge {
		t.Errorf("Match = %v, %v, %v; want the ModelSource error", e, ok, err)
	}
	r.Path = "/b"
	if e, ok, err := tab.Match(r); !ok || err != nil || e.Name != "all" {
		t.Errorf("Match = %v, %v, %v; want the nil-matcher entry", e, ok, err)
	}
	empty := NewTable[int](nil)
	if e, ok, err := empty.Match(r); e != nil || ok || err != nil {
		t.Errorf("empty table Match = %v, %v, %v", e, ok, err)
	}
}

func TestTableMatchAllocs(t *testing.T) {
	tab := seedTable(t)
	reqs := seedRequests()
	big := prefixTable(t, 1000)
	reqs["indexed"] = &Request{Method: "GET", Path: "/svc-0999/v1/chat/completions"}
	if e, ok, _ := big.Match(reqs["indexed"]); !ok || e.Name != "/svc-0999/" {
		t.Fatalf("1000-route table matched %v", e)
	}
	allocs := testing.AllocsPerRun(200, func() { _, _, _ = big.Match(reqs["indexed"]) })
	if allocs != 0 {
		t.Errorf("1000-route table: %v allocs per Match, want 0", allocs)
	}
	for _, r := range reqs {
		allocs := testing.AllocsPerRun(200, func() {
			saved := *r
			if _, _, err := tab.Match(r); err != nil {
				t.Fatal(err)
			}
			*r = saved // forget the cached query and model
		})
		if allocs != 0 {
			t.Errorf("%s %s?%s: %v allocs per Match, want 0", r.Method, r.Path, r.RawQuery, allocs)
		}
	}
}
