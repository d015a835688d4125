package discovery

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStateAvailability(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name      string
		ejectTill time.Time
		unhealthy bool
		want      bool
	}{
		{"fresh", time.Time{}, false, true},
		{"ejected", now.Add(time.Second), false, false},
		{"ejection over", now.Add(-time.Second), false, true},
		{"ejection ends now", now, false, true},
		{"unhealthy", time.Time{}, true, false},
		{"ejected and unhealthy", now.Add(time.Second), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			s.Eject(tt.ejectTill)
			s.SetUnhealthy(tt.unhealthy)
			if got := s.Available(now.UnixNano()); got != tt.want {
				t.Fatalf("Available = %v, want %v", got, tt.want)
			}
			if !s.EjectedUntil().Equal(tt.ejectTill) {
				t.Fatalf("EjectedUntil = %v, want %v", s.EjectedUntil(), tt.ejectTill)
			}
		})
	}
}

func TestStateServerStatsSurviveSetUpdates(t *testing.T) {
	s := newSet(Key{Node: "n", Port: 1})
	s.Update([]string{"10.0.0.1:1"})
	ep := s.Endpoints()[0]
	ep.State.SetServerStats(&ServerStats{Waiting: 3})
	ep.State.InFlightTokens.Add(100)
	s.Update([]string{"10.0.0.1:1", "10.0.0.2:1"})
	got := s.Endpoints()[0]
	if got != ep || got.State.ServerStats().Waiting != 3 || got.State.InFlightTokens.Load() != 100 {
		t.Fatalf("state lost across an update: %+v", got.State.ServerStats())
	}
}

func TestSlotsAreSmallUniqueAndStable(t *testing.T) {
	s := newSet(Key{Node: "n", Port: 1})
	s.Update([]string{"a:1", "b:1", "c:1"})
	slots := func() map[string]int {
		m := map[string]int{}
		for _, e := range s.Endpoints() {
			m[e.Addr] = e.Slot
		}
		return m
	}
	first := slots()
	if first["a:1"] != 0 || first["b:1"] != 1 || first["c:1"] != 2 {
		t.Fatalf("slots = %v", first)
	}
	s.Update([]string{"a:1", "c:1", "d:1", "e:1"})
	got := slots()
	if got["a:1"] != 0 || got["c:1"] != 2 || got["d:1"] != 1 || got["e:1"] != 3 {
		t.Fatalf("after removing b and adding d, e: slots = %v", got)
	}
}

func TestWorkersFollowTheSet(t *testing.T) {
	s := newSet(Key{Node: "n", Port: 1})
	s.Update([]string{"a:1", "b:1"})
	var mu sync.Mutex
	running := map[string]bool{}
	var stopped []string
	w := StartWorkers(s, 5*time.Millisecond, func(ctx context.Context, ep *Endpoint) {
		mu.Lock()
		running[ep.Addr] = true
		mu.Unlock()
		<-ctx.Done()
		mu.Lock()
		delete(running, ep.Addr)
		mu.Unlock()
	}, func(ep *Endpoint) {
		mu.Lock()
		stopped = append(stopped, ep.Addr)
		mu.Unlock()
	})
	check := func(want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			mu.Lock()
			var got []string
			for a := range running {
				got = append(got, a)
			}
			mu.Unlock()
			slices.Sort(got)
			if strings.Join(got, ",") == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("running %v, want %s", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	check("a:1,b:1")
	s.Update([]string{"b:1", "c:1"})
	check("b:1,c:1")
	if w.Len() != 2 {
		t.Fatalf("Len = %d", w.Len())
	}
	w.Close()
	check("")
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(stopped)
	if strings.Join(stopped, ",") != "a:1,b:1,c:1" {
		t.Fatalf("stopped %v", stopped)
	}
}
