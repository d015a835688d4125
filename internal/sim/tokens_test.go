package sim

import (
	"fmt"
	"strings"
	"testing"
)

func TestCountTokens(t *testing.T) {
	tests := []struct {
		in         string
		tokens     int
		promptToks int
	}{
		{"", 0, 1},
		{"a", 1, 1},
		{"abcd", 1, 1},
		{"abcde", 2, 2},
		{"hello world", 3, 3},
		{strings.Repeat("x", 4000), 1000, 1000},
		{"héllo", 2, 2}, // bytes, not runes: 6 bytes
	}
	for _, tt := range tests {
		if got := CountTokens(tt.in); got != tt.tokens {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.tokens)
		}
		if got := promptTokens(tt.in); got != tt.promptToks {
			t.Errorf("promptTokens(%q) = %d, want %d", tt.in, got, tt.promptToks)
		}
	}
}

func TestOutputTokensAgreeWithCount(t *testing.T) {
	if len(outputText)%BytesPerToken != 0 {
		t.Fatalf("outputText has %d bytes, not a multiple of %d", len(outputText), BytesPerToken)
	}
	for _, n := range []int{1, 7, 32, 200} {
		var b strings.Builder
		for i := range n {
			b.WriteString(outputToken(i))
		}
		if got := CountTokens(b.String()); got != n {
			t.Errorf("%d generated tokens count as %d", n, got)
		}
	}
}

func TestBlockHashes(t *testing.T) {
	const bs = 4 // 16 bytes per block
	shared := strings.Repeat("s", 40)
	a := BlockHashes(shared+strings.Repeat("a", 40), bs) // 80 bytes: 5 full blocks
	b := BlockHashes(shared+strings.Repeat("b", 40), bs)
	tests := []struct {
		name   string
		prompt string
		blocks int
	}{
		{"empty", "", 0},
		{"partial only", strings.Repeat("x", 12), 0},
		{"one block", strings.Repeat("x", 16), 1},
		{"a partial last token still fills the block", strings.Repeat("x", 13), 1},
		{"second block ends on a partial token", strings.Repeat("x", 29), 2},
		{"two blocks", strings.Repeat("x", 32), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(BlockHashes(tt.prompt, bs)); got != tt.blocks {
				t.Errorf("%d blocks, want %d", got, tt.blocks)
			}
		})
	}
	if len(a) != 5 || len(b) != 5 {
		t.Fatalf("got %d and %d blocks, want 5", len(a), len(b))
	}
	// The first 40 bytes are shared: blocks 0 and 1 (bytes 0..31) match, block 2 differs, and
	// so does every later block since the hash is chained.
	for i := range 5 {
		if same := a[i] == b[i]; same != (i < 2) {
			t.Errorf("block %d: same=%v, want %v", i, same, i < 2)
		}
	}
	// Chained: the same block content after a different prefix hashes differently.
	x := BlockHashes("AAAAAAAAAAAAAAAAzzzzzzzzzzzzzzzz", bs)
	y := BlockHashes("BBBBBBBBBBBBBBBBzzzzzzzzzzzzzzzz", bs)
	if x[1] == y[1] {
		t.Error("block 1 hashes equal after different block 0: not chained")
	}
	// Stable across processes and releases: other packages may predict them.
	if got, want := BlockHashes("0123456789abcdef", bs)[0], uint64(0x93800c809dbbbab8); got != want {
		t.Errorf("hash of one block = %#x, want %#x", got, want)
	}
}

func TestRenderChat(t *testing.T) {
	got := RenderChat([]Message{{"system", "be brief"}, {"user", "hi"}})
	want := "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("RenderChat = %q, want %q", got, want)
	}
	// A shared first message is a shared prefix, and so shared full blocks.
	sys := Message{"system", strings.Repeat("context ", 50)}
	prefix := "<|im_start|>system\n" + sys.Content + "<|im_end|>\n"
	h1 := BlockHashes(RenderChat([]Message{sys, {"user", "one"}}), 16)
	h2 := BlockHashes(RenderChat([]Message{sys, {"user", "two"}}), 16)
	shared := len(prefix) / (16 * BytesPerToken)
	for i := range shared {
		if h1[i] != h2[i] {
			t.Fatalf("block %d of %d shared blocks differs", i, shared)
		}
	}
	if h1[shared] == h2[shared] {
		t.Errorf("block %d holds different user messages but hashes equal", shared)
	}
}

func BenchmarkCountAndHash(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 128 << 10} {
		prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. ", size/45+1)[:size]
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var dst []uint64
			for b.Loop() {
				_ = CountTokens(prompt)
				dst = appendBlockHashes(dst[:0], prompt, 16)
			}
		})
	}
}

func BenchmarkRenderChat(b *testing.B) {
	msgs := []Message{{"system", strings.Repeat("You are a helpful assistant. ", 40)}, {"user", "What is a service mesh?"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderChat(msgs)
	}
}
