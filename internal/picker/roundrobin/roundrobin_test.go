package roundrobin

import (
	"testing"

	"github.com/aimesh/aimesh/internal/picker"
)

func TestPickCycles(t *testing.T) {
	p, _ := New(picker.Config{}, nil)
	cands := make([]picker.Candidate, 3)
	var got []int
	for range 7 {
		got = append(got, p.Pick(nil, cands))
	}
	want := []int{0, 1, 2, 0, 1, 2, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("picks %v, want %v", got, want)
		}
	}
	if p.Pick(nil, nil) != -1 {
		t.Fatal("no candidates must give -1")
	}
}
