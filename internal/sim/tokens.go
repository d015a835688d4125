package sim

import (
	"strings"
)

// BytesPerToken is the token approximation: token i of a text is its bytes [4i, 4i+4), so a
// text of n bytes has ceil(n/4) tokens. It is deterministic, needs no vocabulary, and keeps a
// shared byte prefix a shared token prefix.
const BytesPerToken = 4

// CountTokens returns the number of tokens of s: ceil(len(s)/4).
func CountTokens(s string) int {
	return (len(s) + BytesPerToken - 1) / BytesPerToken
}

// promptTokens is the token count of a prompt: at least 1 (an empty prompt still has its
// beginning-of-sequence token).
func promptTokens(prompt string) int {
	return max(1, CountTokens(prompt))
}

// FNV-1a, 64 bit: stable across processes and runs, unlike hash/maphash.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// rootHash is the parent of the first block of every prompt.
	rootHash uint64 = fnvOffset
)

// BlockHashes returns the chained hashes of the full KV-cache blocks of prompt: block i holds
// tokens [i*blockSize, (i+1)*blockSize) and hash(i) = FNV-1a(hash(i-1) as 8 little-endian bytes,
// the block's bytes), with hash(-1) = the FNV offset basis. A hash therefore stands for the
// whole prefix up to the end of its block. A trailing partial block has no hash (vLLM caches
// full blocks only).
func BlockHashes(prompt string, blockSize int) []uint64 {
	return appendBlockHashes(nil, prompt, blockSize)
}

func appendBlockHashes(dst []uint64, prompt string, blockSize int) []uint64 {
	if blockSize < 1 {
		return dst
	}
	full := CountTokens(prompt) / blockSize
	blockBytes := blockSize * BytesPerToken
	h := rootHash
	for i := range full {
		start := i * blockBytes
		end := min(start+blockBytes, len(prompt))
		h = chainHash(h, prompt[start:end])
		dst = append(dst, h)
	}
	return dst
}

func chainHash(parent uint64, block string) uint64 {
	h := uint64(fnvOffset)
	for i := range 8 {
		h ^= (parent >> (8 * i)) & 0xff
		h *= fnvPrime
	}
	for i := 0; i < len(block); i++ {
		h ^= uint64(block[i])
		h *= fnvPrime
	}
	return h
}

// Message is one chat message as RenderChat reads it.
type Message struct {
	Role    string
	Content string
}

// RenderChat renders chat messages to the one prompt string that is tokenized, in a fixed
// ChatML-like template, so requests that share their first messages share a prompt prefix:
//
//	<|im_start|>{role}\n{content}<|im_end|>\n   (per message)
//	<|im_start|>assistant\n                      (generation prompt)
func RenderChat(msgs []Message) string {
	var b strings.Builder
	n := len("<|im_start|>assistant\n")
	for _, m := range msgs {
		n += len("<|im_start|>\n<|im_end|>\n") + len(m.Role) + len(m.Content)
	}
	b.Grow(n)
	for _, m := range msgs {
		b.WriteString("<|im_start|>")
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}

// outputText is what the simulated model says, cut into 4-byte tokens so that the usage of a
// response agrees with CountTokens of its text. Generated token i is outputTokens[i%len].
const outputText = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation. "

var outputTokens = func() []string {
	toks := make([]string, 0, len(outputText)/BytesPerToken)
	for i := 0; i+BytesPerToken <= len(outputText); i += BytesPerToken {
		toks = append(toks, outputText[i:i+BytesPerToken])
	}
	return toks
}()

// outputToken returns generated token i.
func outputToken(i int) string {
	return outputTokens[i%len(outputTokens)]
}
