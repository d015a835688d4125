package random

import (
	"testing"

	"github.com/aimesh/aimesh/internal/picker"
)

func TestPickIsRoughlyUniform(t *testing.T) {
	p, _ := New(picker.Config{}, nil)
	cands := make([]picker.Candidate, 4)
	counts := make([]int, 4)
	const n = 4000
	for range n {
		counts[p.Pick(nil, cands)]++
	}
	for i, c := range counts {
		if c < n/4*8/10 || c > n/4*12/10 {
			t.Fatalf("candidate %d picked %d of %d times: %v", i, c, n, counts)
		}
	}
	if p.Pick(nil, nil) != -1 {
		t.Fatal("no candidates must give -1")
	}
}
