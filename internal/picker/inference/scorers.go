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

// QueueScorer favours short engine queues: 1 - queue/scale, where scale is
// the saturation threshold or the longest queue among the candidates,
// whichever is larger. Below saturation a queue costs in proportion to
// how close it is to the threshold, so a marginally longer queue does not
// outweigh prefix affinity; past it the scores spread between the
// candidates' shortest and longest queues.
type QueueScorer struct {
	// Threshold is the queue depth that saturates an endpoint.
	Threshold float64
}

var _ picker.Scorer = QueueScorer{}

// Score rates queue depth.
func (s QueueScorer) Score(_ *picker.Request, cands []picker.Candidate, scores []float64) {
	scale := max(s.Threshold, 0)
	for i := range cands {
		scale = max(scale, cands[i].Queue)
	}
	for i := range cands {
		scores[i] = linear(cands[i].Queue, scale)
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

// TokenScorer favours endpoints with fewer estimated new tokens in flight
// from aimesh: 1 - tokens/scale, where scale is the endpoint's KV-cache
// size (when the engine reports it) or the most tokens any candidate has
// in flight, whichever is larger.
type TokenScorer struct{}

var _ picker.Scorer = TokenScorer{}

// Score rates in-flight tokens.
func (TokenScorer) Score(_ *picker.Request, cands []picker.Candidate, scores []float64) {
	var most int64
	for i := range cands {
		most = max(most, cands[i].Tokens)
	}
	for i := range cands {
		scores[i] = linear(float64(cands[i].Tokens), float64(max(most, cands[i].KVCapacityTokens)))
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

// linear maps v in [0, scale] to 1 .. 0; 1 when scale is 0.
func linear(v, scale float64) float64 {
	if scale <= 0 {
		return 1
	}
	return min(max(1-v/scale, 0), 1)
}
