package picker

import (
	"errors"
	"strings"

	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// ErrShed is returned by Balancer.Pick for a sheddable request when every
// available endpoint is saturated.
var ErrShed = errors.New("every endpoint is saturated")

// Filter narrows the candidates of one pick. It reorders cands in place
// and returns the ones that pass as a prefix of it. A scheduler treats
// filters as preferences: when one would leave nothing, the candidates
// stay as they were.
type Filter interface {
	Filter(req *Request, cands []Candidate) []Candidate
}

// Scorer rates every candidate: scores[i], in [0,1], is cands[i]'s score,
// higher is better. len(scores) == len(cands).
type Scorer interface {
	Score(req *Request, cands []Candidate, scores []float64)
}

// Picker chooses one candidate from their weighted total scores and
// returns its index.
type Picker interface {
	Pick(req *Request, cands []Candidate, totals []float64) int
}

// Policy picks one endpoint among candidates that are available (not
// ejected, not failed by a health check), untried when possible, and carry
// their load view. It returns an index into cands as it leaves them
// (filters may reorder cands), or -1 for none. A Policy is shared by
// concurrent requests.
type Policy interface {
	Pick(req *Request, cands []Candidate) int
}

// Weighted is a scorer with its weight.
type Weighted struct {
	Name   string
	Scorer Scorer
	Weight float64
}

// Criticality says what may happen to a request when its node is
// saturated.
type Criticality uint8

// Criticalities; the zero value is Standard.
const (
	// Standard requests are always forwarded.
	Standard Criticality = iota
	// Critical requests are always forwarded.
	Critical
	// Sheddable requests are refused when every endpoint is saturated.
	Sheddable
)

// CriticalityHeader overrides a route's criticality per request.
const CriticalityHeader = "X-Aimesh-Criticality"

// ParseCriticality reads critical, standard or sheddable in any case.
func ParseCriticality(s string) (Criticality, bool) {
	switch {
	case strings.EqualFold(s, "standard"):
		return Standard, true
	case strings.EqualFold(s, "critical"):
		return Critical, true
	case strings.EqualFold(s, "sheddable"):
		return Sheddable, true
	}
	return Standard, false
}

func (c Criticality) String() string {
	switch c {
	case Critical:
		return "Critical"
	case Sheddable:
		return "Sheddable"
	}
	return "Standard"
}

// BytesPerToken is the prompt bytes counted as one token when estimating.
const BytesPerToken = 4

// DefaultOutputTokens is the output estimated for a request that does not
// say how long its answer may be.
const DefaultOutputTokens = 256

// Request is what policies know about one request. The zero value is a
// request with no prompt. A Request belongs to one goroutine; it holds the
// scratch space of its picks, so reusing it (Reset) avoids allocations.
type Request struct {
	// Prompt is the raw prompt (openai.Info.Prompt) or nil.
	Prompt []byte
	// Tokens is the estimated tokens of the request (EstimateTokens).
	Tokens int64
	// Criticality of the request.
	Criticality Criticality

	hashes    []uint64
	hashBytes int // block size hashes were computed with; 0: none
	cands     []Candidate
	totals    []float64
	scores    []float64
	counts    []int32
}

// Reset clears the request for reuse, keeping its buffers.
func (r *Request) Reset() {
	clear(r.cands[:cap(r.cands)]) // drop endpoint pointers
	*r = Request{hashes: r.hashes[:0], cands: r.cands[:0], totals: r.totals[:0], scores: r.scores[:0], counts: r.counts[:0]}
}

// EstimateTokens estimates a request's tokens: the prompt at BytesPerToken
// bytes a token plus the output it asks for (DefaultOutputTokens when it
// does not say).
func EstimateTokens(promptBytes int, maxTokens int64) int64 {
	if maxTokens <= 0 {
		maxTokens = DefaultOutputTokens
	}
	return int64(promptBytes+BytesPerToken-1)/BytesPerToken + maxTokens
}

// Hashes returns the chained block hashes of the prompt for a block size,
// computed once per request.
func (r *Request) Hashes(blockBytes int) []uint64 {
	if r.hashBytes != blockBytes {
		r.hashes = prefix.AppendHashes(r.hashes[:0], r.Prompt, blockBytes)
		r.hashBytes = blockBytes
	}
	return r.hashes
}

// Counts returns a reusable buffer for prefix match counts.
func (r *Request) Counts() []int32 { return r.counts }

// SetCounts keeps a grown counts buffer for the next pick.
func (r *Request) SetCounts(c []int32) { r.counts = c }

// floats returns two zeroed scratch slices of length n.
func (r *Request) floats(n int) (totals, scores []float64) {
	if cap(r.totals) < n {
		r.totals = make([]float64, n)
		r.scores = make([]float64, n)
	}
	r.totals, r.scores = r.totals[:n], r.scores[:n]
	clear(r.totals)
	return r.totals, r.scores
}
