package inference

import (
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// SaturationFilter keeps the unsaturated candidates when there are any,
// so that no scorer, prefix affinity included, can send a request to a
// saturated endpoint while another has room.
type SaturationFilter struct{}

var _ picker.Filter = SaturationFilter{}

// Filter moves the unsaturated candidates to the front and returns them.
func (SaturationFilter) Filter(_ *picker.Request, cands []picker.Candidate) []picker.Candidate {
	n := 0
	for i := range cands {
		if !cands[i].Saturated {
			cands[n], cands[i] = cands[i], cands[n]
			n++
		}
	}
	return cands[:n]
}

// QueueScorer favours short engine queues: the shortest queue among the
// candidates scores 1, the longest 0, linearly in between; equal queues
// all score 1.
type QueueScorer struct{}

var _ picker.Scorer = QueueScorer{}

// Score rates queue depth.
func (QueueScorer) Score(_ *picker.Request, cands []picker.Candidate, scores []float64) {
	lo, hi := cands[0].Queue, cands[0].Queue
	for i := range cands {
		lo, hi = min(lo, cands[i].Queue), max(hi, cands[i].Queue)
	}
	for i := range cands {
		scores[i] = minMax(cands[i].Queue, lo, hi)
	}
}

// KVCacheScorer favours free KV cache: 1 minus the estimated usage.
type KVCacheScorer struct{}

var _ picker.Scorer = KVCacheScorer{}

// Score rates KV-cache room.
func (KVCacheScorer) Score(_ *picker.Request, cands []picker.Candidate, scores []float64) {
	for i := range cands {
		scores[i] = 1 - min(max(cands[i].KV, 0), 1)
	}
}

// TokenScorer favours endpoints with fewer estimated tokens in flight from
// aimesh, scaled between the candidates' least and most.
type TokenScorer struct{}

var _ picker.Scorer = TokenScorer{}

// Score rates in-flight tokens.
func (TokenScorer) Score(_ *picker.Request, cands []picker.Candidate, scores []float64) {
	lo, hi := cands[0].Tokens, cands[0].Tokens
	for i := range cands {
		lo, hi = min(lo, cands[i].Tokens), max(hi, cands[i].Tokens)
	}
	for i := range cands {
		scores[i] = minMax(float64(cands[i].Tokens), float64(lo), float64(hi))
	}
}

// PrefixScorer favours the endpoints that were sent the longest leading
// part of the request's prompt: the fraction of its blocks found there.
// Requests without a prompt score 0 everywhere.
type PrefixScorer struct {
	Index      *prefix.Index
	BlockBytes int
}

var _ picker.Scorer = (*PrefixScorer)(nil)

// Score rates prefix affinity.
func (s *PrefixScorer) Score(req *picker.Request, cands []picker.Candidate, scores []float64) {
	hashes := req.Hashes(s.BlockBytes)
	if len(hashes) == 0 {
		clear(scores)
		return
	}
	counts := s.Index.Match(hashes, req.Counts())
	req.SetCounts(counts)
	for i := range cands {
		scores[i] = 0
		if slot := cands[i].Endpoint.Slot; slot < len(counts) {
			scores[i] = float64(counts[slot]) / float64(len(hashes))
		}
	}
}

// minMax maps v in [lo, hi] to 1 (at lo) .. 0 (at hi); 1 when lo == hi.
func minMax(v, lo, hi float64) float64 {
	if hi <= lo {
		return 1
	}
	return (hi - v) / (hi - lo)
}
