// Package roundrobin is the roundRobin policy, App Mesh's behaviour and
// aimesh's default: each pick takes the next available endpoint in turn.
package roundrobin

import (
	"sync/atomic"

	"github.com/aimesh/aimesh/internal/picker"
)

// Policy cycles through the candidates with one cursor per endpoint Set.
type Policy struct{ next atomic.Uint64 }

var _ picker.Policy = (*Policy)(nil)

// New builds the policy.
func New(picker.Config, *picker.Shared) (picker.Policy, error) { return &Policy{}, nil }

// Pick returns the next candidate in turn.
func (p *Policy) Pick(_ *picker.Request, cands []picker.Candidate) int {
	if len(cands) == 0 {
		return -1
	}
	return int((p.next.Add(1) - 1) % uint64(len(cands)))
}
