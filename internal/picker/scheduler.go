package picker

import "math/rand/v2"

// Scheduler is a Policy made of the small contracts: filters narrow the
// candidates, weighted scorers rate them, and a picker chooses from the
// totals.
type Scheduler struct {
	Filters []Filter
	Scorers []Weighted
	Picker  Picker
}

var _ Policy = (*Scheduler)(nil)

// Pick runs the filters (a filter that would leave nothing is skipped),
// sums the weighted scores and lets the picker choose.
func (s *Scheduler) Pick(req *Request, cands []Candidate) int {
	if len(cands) == 0 {
		return -1
	}
	for _, f := range s.Filters {
		if out := f.Filter(req, cands); len(out) > 0 {
			cands = out
		}
	}
	if len(cands) == 1 {
		return 0
	}
	totals, scores := req.floats(len(cands))
	for _, w := range s.Scorers {
		if w.Weight == 0 {
			continue
		}
		w.Scorer.Score(req, cands, scores)
		for i, sc := range scores {
			totals[i] += w.Weight * sc
		}
	}
	return s.Picker.Pick(req, cands, totals)
}

// MaxScore picks the highest total, breaking ties at random so equal
// endpoints share the load.
type MaxScore struct{}

var _ Picker = MaxScore{}

// Pick returns the index of the best total.
func (MaxScore) Pick(_ *Request, cands []Candidate, totals []float64) int {
	best, ties := -1, 0
	for i, t := range totals {
		switch {
		case best < 0 || t > totals[best]+1e-9:
			best, ties = i, 1
		case t >= totals[best]-1e-9:
			// Reservoir sampling over the tied candidates.
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best
}
