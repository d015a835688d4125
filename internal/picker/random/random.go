// Package random is the random policy: each pick takes an available
// endpoint uniformly at random.
package random

import (
	"math/rand/v2"

	"github.com/aimesh/aimesh/internal/picker"
)

// Policy picks uniformly at random.
type Policy struct{}

var _ picker.Policy = Policy{}

// New builds the policy.
func New(picker.Config, *picker.Shared) (picker.Policy, error) { return Policy{}, nil }

// Pick returns a random candidate.
func (Policy) Pick(_ *picker.Request, cands []picker.Candidate) int {
	if len(cands) == 0 {
		return -1
	}
	return rand.IntN(len(cands))
}
