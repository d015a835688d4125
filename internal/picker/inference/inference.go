// Package inference is the inference policy: model-server-aware picking
// for LLM traffic, built from picker's small contracts.
//
//   - SaturationFilter drops saturated endpoints (queue at
//     queueDepthThreshold, KV cache at kvCacheUsageThresholdPercent while
//     the engine queues, or metrics older than three scrape intervals)
//     when any other is left.
//   - QueueScorer (weight 2), KVCacheScorer (2), TokenScorer (1) and
//     PrefixScorer (3) rate each endpoint in [0,1]; the highest weighted
//     sum wins, ties at random (picker.MaxScore).
//   - After the pick, the prompt's blocks are recorded in the Set's prefix
//     index for the chosen endpoint, bounded by its KV-cache size when the
//     engine reports it.
//
// Prefix affinity never acts alone: a full prefix match (3) loses to an
// endpoint that is best on queue and KV cache (4) when the matching one is
// worst on both, and saturated endpoints are filtered out before scoring.
//
// The load view is scraped engine metrics corrected by aimesh's own
// counters (picker.Observe); without a modelServer it is aimesh's
// in-flight requests and tokens only.
package inference

import (
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// Policy is the inference policy for one endpoint Set.
type Policy struct {
	sched      picker.Scheduler
	index      *prefix.Index
	blockBytes int
	prefix     bool
}

var _ picker.Policy = (*Policy)(nil)

// New builds the policy from cfg's weights and thresholds; sh.Index is the
// Set's long-lived prefix index.
func New(cfg picker.Config, sh *picker.Shared) (picker.Policy, error) {
	p := &Policy{index: sh.Index, blockBytes: cfg.BlockBytes, prefix: cfg.Weights.Prefix > 0 && sh.Index != nil}
	p.sched = picker.Scheduler{
		Filters: []picker.Filter{SaturationFilter{}},
		Scorers: []picker.Weighted{
			{Name: "queue", Scorer: QueueScorer{Threshold: cfg.QueueThreshold}, Weight: cfg.Weights.Queue},
			{Name: "kvCache", Scorer: KVCacheScorer{}, Weight: cfg.Weights.KVCache},
			{Name: "inFlightTokens", Scorer: TokenScorer{}, Weight: cfg.Weights.InFlightTokens},
		},
		Picker: picker.MaxScore{},
	}
	if p.prefix {
		p.sched.Scorers = append(p.sched.Scorers, picker.Weighted{
			Name: "prefix", Scorer: &PrefixScorer{Index: sh.Index, BlockBytes: cfg.BlockBytes}, Weight: cfg.Weights.Prefix,
		})
	}
	return p, nil
}

// Pick schedules the request and records its prompt blocks for the
// chosen endpoint. It also lowers req.Tokens by the prompt blocks the
// endpoint likely has cached: what aimesh then counts in flight there is
// the new work and KV cache the request brings, not the shared context it
// reuses.
func (p *Policy) Pick(req *picker.Request, cands []picker.Candidate) int {
	if p.prefix {
		req.SetCounts(req.Counts()[:0]) // the scorer fills them, if it runs
	}
	i := p.sched.Pick(req, cands)
	if i < 0 || !p.prefix {
		return i
	}
	hashes := req.Hashes(p.blockBytes)
	if len(hashes) == 0 {
		return i
	}
	c := &cands[i]
	counts := req.Counts()
	if len(counts) == 0 { // one candidate: nothing was scored
		counts = p.index.Match(hashes, counts)
		req.SetCounts(counts)
	}
	if slot := c.Endpoint.Slot; slot < len(counts) && counts[slot] > 0 {
		cached := int64(counts[slot]) * int64(p.blockBytes) / picker.BytesPerToken
		req.Tokens = max(req.Tokens-cached, 1)
	}
	limit := 0
	if c.KVCapacityTokens > 0 {
		limit = int(max(1, c.KVCapacityTokens*picker.BytesPerToken/int64(p.blockBytes)))
	}
	p.index.Insert(c.Endpoint, hashes, limit)
	return i
}
