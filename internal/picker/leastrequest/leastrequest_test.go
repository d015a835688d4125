package leastrequest

import (
	"testing"

	"github.com/aimesh/aimesh/internal/picker"
)

func TestBetter(t *testing.T) {
	tests := []struct {
		name string
		a, b picker.Candidate
		want int
	}{
		{"fewer requests wins", picker.Candidate{InFlight: 3}, picker.Candidate{InFlight: 1}, 1},
		{"tie on requests: fewer tokens", picker.Candidate{InFlight: 2, Tokens: 900}, picker.Candidate{InFlight: 2, Tokens: 100}, 1},
		{"full tie: the first drawn", picker.Candidate{InFlight: 2}, picker.Candidate{InFlight: 2}, 0},
		{"first is better", picker.Candidate{InFlight: 0, Tokens: 9999}, picker.Candidate{InFlight: 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Better([]picker.Candidate{tt.a, tt.b}, 0, 1); got != tt.want {
				t.Fatalf("Better = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPickNeverChoosesTheBusiest(t *testing.T) {
	p, _ := New(picker.Config{}, nil)
	cands := []picker.Candidate{{InFlight: 1}, {InFlight: 9}, {InFlight: 2}}
	counts := make([]int, 3)
	for range 3000 {
		counts[p.Pick(nil, cands)]++
	}
	// Two distinct draws: the busiest can never win, the idlest wins
	// whenever drawn (2/3 of picks).
	if counts[1] != 0 || counts[0] < 1800 || counts[0] > 2200 {
		t.Fatalf("picks %v", counts)
	}
	if p.Pick(nil, cands[:1]) != 0 || p.Pick(nil, nil) != -1 {
		t.Fatal("one candidate gives 0, none gives -1")
	}
}
