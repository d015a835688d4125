package route

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

// randomTable builds a table of n routes over a small path alphabet, so
// that literals are often prefixes of each other, with exact paths,
// regexes, gateway-style routes without a path, methods, headers, models
// and random priorities.
func randomTable(tb testing.TB, rng *rand.Rand, n int) *Table[int] {
	pieces := []string{"/", "a", "b", "/v1", "/v1/", "chat", "/x"}
	lit := func() string {
		var b strings.Builder
		b.WriteString("/")
		for k := rng.IntN(4); k > 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	entries := make([]Entry[int], n)
	for i := range entries {
		var m *Matcher
		var err error
		switch rng.IntN(6) {
		case 0:
			m, err = CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Exact: ptr(lit())}})
		case 1:
			m, err = CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Path: &v1alpha1.HTTPPathMatch{Regex: ptr(lit() + ".*")}})
		case 2:
			m, err = CompileHTTPGatewayRouteMatch(&v1alpha1.HTTPGatewayRouteMatch{Headers: []v1alpha1.HTTPHeaderMatch{{Name: "X-A"}}})
		case 3:
			m, err = CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Prefix: ptr(lit()), Model: &v1alpha1.ModelMatch{Prefix: ptr("m")}})
		default:
			mm := v1alpha1.HTTPRouteMatch{Prefix: ptr(lit())}
			if rng.IntN(2) == 0 {
				mm.Method = ptr(v1alpha1.HTTPMethod("POST"))
			}
			m, err = CompileHTTPRouteMatch(&mm)
		}
		if err != nil {
			tb.Fatal(err)
		}
		entries[i] = Entry[int]{Matcher: m, Value: i, Priority: int64(rng.IntN(5)), HasPriority: rng.IntN(3) > 0}
	}
	tab := NewTable(entries)
	if tab.index == nil {
		tb.Fatalf("no index for %d entries", n)
	}
	return tab
}

// sameAnswer checks the indexed lookup against the linear scan.
func sameAnswer(t *testing.T, tab *Table[int], r *Request) {
	t.Helper()
	saved := *r
	e1, ok1, err1 := tab.Match(r)
	*r = saved
	e2, ok2, err2 := tab.scan(r)
	*r = saved
	if e1 != e2 || ok1 != ok2 || err1 != err2 {
		t.Fatalf("path %q: index gives %v %v %v, scan gives %v %v %v", r.Path, e1, ok1, err1, e2, ok2, err2)
	}
}

func requestFor(path string, rng *rand.Rand) *Request {
	r := &Request{Method: "GET", Path: path, Header: http.Header{}}
	if rng.IntN(2) == 0 {
		r.Method = "POST"
	}
	if rng.IntN(3) == 0 {
		r.Header.Set("X-A", "1")
	}
	switch rng.IntN(3) {
	case 0:
		r.Model = fixedModel("model")
	case 1:
		r.Model = &countingModel{err: errTooLarge}
	}
	return r
}

func TestIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"", "/", "//", "/a", "/ab", "/v1", "/v1/", "/v1/chat", "/v1/v1/chat", "/xa", "/b/", "/chat", "/v1/x/chat/a"}
	for round := 0; round < 50; round++ {
		tab := randomTable(t, rng, indexMin+rng.IntN(200))
		for _, p := range paths {
			for k := 0; k < 4; k++ {
				sameAnswer(t, tab, requestFor(p, rng))
			}
		}
	}
}

func TestIndexFallsBackOnDeepPaths(t *testing.T) {
	var entries []Entry[int]
	for i := 0; i < indexMin; i++ {
		m, _ := CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Prefix: ptr("/" + strings.Repeat("a", i)), Method: ptr(v1alpha1.HTTPMethod("PUT"))})
		entries = append(entries, Entry[int]{Matcher: m, Value: i})
	}
	// The last entry is the only match and the path passes through more
	// index nodes with entries than a lookup merges.
	last, _ := CompileHTTPRouteMatch(&v1alpha1.HTTPRouteMatch{Prefix: ptr("/" + strings.Repeat("a", 20))})
	entries = append(entries, Entry[int]{Matcher: last, Value: -1})
	tab := NewTable(entries)
	var lists [maxCandidateLists][]int32
	r := &Request{Method: "GET", Path: "/" + strings.Repeat("a", 30)}
	if _, ok := tab.index.candidates(r.Path, &lists); ok {
		t.Fatal("want the candidate lists to overflow")
	}
	e, ok, err := tab.Match(r)
	if err != nil || !ok || e.Value != -1 {
		t.Fatalf("Match = %v, %v, %v", e, ok, err)
	}
	sameAnswer(t, tab, r)
}

func FuzzIndex(f *testing.F) {
	f.Add(uint64(1), "/v1/chat")
	f.Add(uint64(7), "/")
	f.Add(uint64(9), "/ab/v1/")
	f.Fuzz(func(t *testing.T, seed uint64, path string) {
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		tab := randomTable(t, rng, indexMin+rng.IntN(64))
		sameAnswer(t, tab, requestFor(path, rng))
	})
}
