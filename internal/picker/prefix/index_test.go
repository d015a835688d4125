package prefix

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/discovery"
)

func endpoints(n int) []*discovery.Endpoint {
	eps := make([]*discovery.Endpoint, n)
	for i := range eps {
		eps[i] = &discovery.Endpoint{Addr: fmt.Sprintf("10.0.0.%d:8000", i), Slot: i}
	}
	return eps
}

func TestAppendHashesChainsBlocks(t *testing.T) {
	a := []byte(strings.Repeat("A", 64) + strings.Repeat("B", 64) + "tail")
	b := []byte(strings.Repeat("A", 64) + strings.Repeat("C", 64))
	c := []byte(strings.Repeat("B", 64) + strings.Repeat("B", 64))
	ha, hb, hc := AppendHashes(nil, a, 64), AppendHashes(nil, b, 64), AppendHashes(nil, c, 64)
	if len(ha) != 2 || len(hb) != 2 {
		t.Fatalf("full blocks only: got %d and %d hashes", len(ha), len(hb))
	}
	if ha[0] != hb[0] || ha[1] == hb[1] {
		t.Fatalf("equal first blocks must hash equal, different second blocks differently")
	}
	if ha[1] == hc[1] {
		t.Fatalf("the same block after a different prefix must hash differently")
	}
	if n := len(AppendHashes(nil, bytes.Repeat([]byte("x"), 16*(MaxBlocks+5)), 16)); n != MaxBlocks {
		t.Fatalf("hashes of a long prompt = %d, want MaxBlocks %d", n, MaxBlocks)
	}
	if n := len(AppendHashes(nil, a, 0)); n != 0 {
		t.Fatalf("block size 0 hashes %d blocks", n)
	}
}

func TestMatch(t *testing.T) {
	eps := endpoints(3)
	p := func(s string) []uint64 { return AppendHashes(nil, []byte(s), 4) }
	tests := []struct {
		name   string
		insert map[int]string // slot -> prompt sent there
		query  string
		want   []int32 // by slot
	}{
		{"empty index", nil, "aaaabbbbcccc", []int32{}},
		{"full hit", map[int]string{1: "aaaabbbbcccc"}, "aaaabbbbcccc", []int32{0, 3}},
		{"longest prefix per endpoint", map[int]string{0: "aaaabbbbxxxx", 1: "aaaabbbbcccc", 2: "aaaa"},
			"aaaabbbbccccdddd", []int32{2, 3, 1}},
		{"different first block", map[int]string{0: "zzzzbbbbcccc"}, "aaaabbbbcccc", []int32{0}},
		{"gap breaks the prefix", map[int]string{0: "aaaa", 1: "aaaabbbbcccc"}, "aaaabbbbcccc", []int32{1, 3}},
		{"query shorter than what was sent", map[int]string{2: "aaaabbbbcccc"}, "aaaabbbb", []int32{0, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := New(100)
			for s, prompt := range tt.insert {
				x.Insert(eps[s], p(prompt), 0)
			}
			got := x.Match(p(tt.query), nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvictionIsLeastRecentlyUsedAndTailFirst(t *testing.T) {
	eps := endpoints(1)
	ep := eps[0]
	x := New(4)
	p := func(s string) []uint64 { return AppendHashes(nil, []byte(s), 1) }
	x.Insert(ep, p("ab"), 0) // a, b
	x.Insert(ep, p("cd"), 0) // c, d: full
	if x.Len(ep) != 4 {
		t.Fatalf("Len = %d, want 4", x.Len(ep))
	}
	x.Insert(ep, p("ab"), 0) // touch a, b: c, d are now the oldest
	x.Insert(ep, p("e"), 0)  // evicts d (the tail of "cd") before c
	if got := x.Match(p("cd"), nil)[0]; got != 1 {
		t.Fatalf("after one eviction, prompt cd matches %d blocks, want 1 (tail evicted first)", got)
	}
	if got := x.Match(p("ab"), nil)[0]; got != 2 {
		t.Fatalf("recently used ab matches %d blocks, want 2", got)
	}
	x.Insert(ep, p("fgh"), 0)
	if x.Len(ep) != 4 {
		t.Fatalf("Len = %d, want the bound 4", x.Len(ep))
	}
	if got := x.Match(p("fgh"), nil)[0]; got != 3 {
		t.Fatalf("newest prompt matches %d blocks, want 3", got)
	}
	// A prompt longer than the bound keeps its head.
	x.Insert(ep, p("123456"), 0)
	if got := x.Match(p("123456"), nil)[0]; got != 4 {
		t.Fatalf("over-long prompt matches %d blocks, want its first 4", got)
	}
	if x.Hashes() != 4 {
		t.Fatalf("distinct hashes = %d, want 4 (evicted blocks leave the map)", x.Hashes())
	}
}

func TestInsertLimitCapsOneEndpoint(t *testing.T) {
	eps := endpoints(2)
	x := New(100)
	long := AppendHashes(nil, bytes.Repeat([]byte("q"), 50), 1)
	x.Insert(eps[0], long, 10)
	x.Insert(eps[1], long, 0)
	// "q" repeated still gives 50 distinct (chained) block hashes.
	if x.Len(eps[0]) != 10 || x.Len(eps[1]) != 50 {
		t.Fatalf("Len = %d and %d, want 10 (limited) and 50", x.Len(eps[0]), x.Len(eps[1]))
	}
	x.Insert(eps[1], long[:1], 5) // a lower limit shrinks the endpoint at once
	if x.Len(eps[1]) != 5 {
		t.Fatalf("after a lower limit Len = %d, want 5", x.Len(eps[1]))
	}
}

func TestRetainAndSlotReuse(t *testing.T) {
	eps := endpoints(3)
	x := New(100)
	h := AppendHashes(nil, []byte("aaaabbbb"), 4)
	for _, ep := range eps {
		x.Insert(ep, h, 0)
	}
	x.Retain([]*discovery.Endpoint{eps[0], eps[2]})
	if got := x.Match(h, nil); fmt.Sprint(got) != "[2 0 2]" {
		t.Fatalf("after Retain, Match = %v, want [2 0 2]", got)
	}
	// A new endpoint reusing slot 2 does not inherit the old one's blocks.
	fresh := &discovery.Endpoint{Addr: "10.0.0.9:8000", Slot: 2}
	x.Insert(fresh, AppendHashes(nil, []byte("zzzz"), 4), 0)
	if got := x.Match(h, nil); fmt.Sprint(got) != "[2 0 0]" {
		t.Fatalf("after slot reuse, Match = %v, want [2 0 0]", got)
	}
	if x.Len(eps[2]) != 0 || x.Len(fresh) != 1 {
		t.Fatalf("Len old = %d, new = %d; want 0 and 1", x.Len(eps[2]), x.Len(fresh))
	}
}

// TestMemoryBound fills endpoints far past their bound with unique blocks
// and checks both the bound and the bytes per block that BytesPerBlock
// documents.
func TestMemoryBound(t *testing.T) {
	const (
		nEps  = 4
		bound = 5000
	)
	eps := endpoints(nEps)
	x := New(bound)
	prompt := make([]byte, 64*MaxBlocks)
	var hashes []uint64
	fill := func(round int) {
		for i := range prompt {
			prompt[i] = byte(i*7 + round)
		}
		for j := range 8 {
			prompt[0], prompt[1] = byte(round), byte(j)
			hashes = AppendHashes(hashes[:0], prompt, 64)
			x.Insert(eps[(round+j)%nEps], hashes, 0)
		}
	}
	for r := range 20 { // warm up past the bound
		fill(r)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for r := 20; r < 50; r++ {
		fill(r)
	}
	for _, ep := range eps {
		if n := x.Len(ep); n > bound {
			t.Fatalf("endpoint holds %d blocks, bound %d", n, bound)
		}
	}
	if x.Hashes() > nEps*bound {
		t.Fatalf("%d hashes for %d endpoints of %d blocks", x.Hashes(), nEps, bound)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > 1<<20 {
		t.Fatalf("heap grew %d bytes after the bound was reached", grown)
	}
	// Measure the whole index: drop it and see what is freed.
	runtime.GC()
	runtime.ReadMemStats(&before)
	blocks := 0
	for _, ep := range eps {
		blocks += x.Len(ep)
	}
	x.Reset()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(before.HeapAlloc) - int64(after.HeapAlloc)) / int64(blocks)
	t.Logf("%d blocks, %d bytes per block", blocks, per)
	if per > BytesPerBlock {
		t.Fatalf("%d bytes per block, documented bound %d", per, BytesPerBlock)
	}
}

func BenchmarkMatch(b *testing.B) {
	eps := endpoints(100)
	x := New(0)
	prompt := bytes.Repeat([]byte("tenant context "), 1000)
	h := AppendHashes(nil, prompt, 256)
	for _, ep := range eps[:8] {
		x.Insert(ep, h, 0)
	}
	var counts []int32
	b.ReportAllocs()
	for b.Loop() {
		counts = x.Match(h, counts)
	}
}

func BenchmarkAppendHashes16KiB(b *testing.B) {
	prompt := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	hashes := make([]uint64, 0, MaxBlocks)
	b.SetBytes(int64(len(prompt)))
	b.ReportAllocs()
	for b.Loop() {
		hashes = AppendHashes(hashes[:0], prompt, 256)
	}
}
