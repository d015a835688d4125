// Package leastrequest is the leastRequest policy: power of two choices on
// the requests aimesh has in flight to each endpoint (Envoy's
// LEAST_REQUEST with choice_count 2). It spreads load almost as well as a
// full scan without herding every concurrent pick onto the same endpoint.
package leastrequest

import (
	"math/rand/v2"

	"github.com/aimesh/aimesh/internal/picker"
)

// Policy picks the less loaded of two random candidates.
type Policy struct{}

var _ picker.Policy = Policy{}

// New builds the policy.
func New(picker.Config, *picker.Shared) (picker.Policy, error) { return Policy{}, nil }

// Pick draws two distinct candidates and returns the one with fewer
// requests in flight (then fewer tokens; then the first drawn).
func (Policy) Pick(_ *picker.Request, cands []picker.Candidate) int {
	switch len(cands) {
	case 0:
		return -1
	case 1:
		return 0
	}
	a := rand.IntN(len(cands))
	b := rand.IntN(len(cands) - 1)
	if b >= a {
		b++
	}
	return Better(cands, a, b)
}

// Better returns whichever of candidates a and b is less loaded.
func Better(cands []picker.Candidate, a, b int) int {
	ca, cb := &cands[a], &cands[b]
	switch {
	case cb.InFlight < ca.InFlight:
		return b
	case cb.InFlight == ca.InFlight && cb.Tokens < ca.Tokens:
		return b
	}
	return a
}
