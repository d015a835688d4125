package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
)

var t0 = time.Unix(1_700_000_000, 0)

func testSet(t *testing.T, n int) *discovery.Set {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.0.%d:80", i+1)
	}
	return discovery.NewRegistry(nil).Ensure(discovery.Key{Node: "vn", Port: 80}, discovery.Spec{Static: addrs})
}

// event is one attempt outcome at an offset from t0.
type event struct {
	at  time.Duration
	err bool
}

func errs(at ...time.Duration) []event {
	out := make([]event, len(at))
	for i, a := range at {
		out[i] = event{at: a, err: true}
	}
	return out
}

func TestOutlierEjectionArithmetic(t *testing.T) {
	cfg := OutlierConfig{MaxServerErrors: 3, Interval: 10 * time.Second, BaseEjection: 30 * time.Second, MaxEjectionPercent: 100}
	s := time.Second
	tests := []struct {
		name      string
		events    []event
		wantUntil time.Duration // offset of the ejection end; 0: not ejected
		wantTimes int
	}{
		{"below the threshold", errs(0, s), 0, 0},
		{"threshold within the interval", errs(0, s, 2*s), 2*s + 30*s, 1},
		{"successes do not reset the count", []event{{0, true}, {s, false}, {2 * s, true}, {3 * s, false}, {4 * s, true}}, 4*s + 30*s, 1},
		{"errors spread over two windows", errs(0, 5*s, 11*s, 12*s), 0, 0},
		{"a new window starts at its first error", errs(0, 11*s, 12*s, 13*s), 13*s + 30*s, 1},
		{"errors while ejected are ignored", errs(0, s, 2*s, 3*s, 4*s, 5*s), 2*s + 30*s, 1},
		// Ejected at 2s until 32s; errors right after come back: twice the base.
		{"second ejection doubles", errs(0, s, 2*s, 33*s, 34*s, 35*s), 35*s + 60*s, 2},
		// Back at 32s; 10s in service per decrement: at 52s the multiplier
		// is 1-2 = 0, so the next ejection is 1× again.
		{"multiplier decays while in service", errs(0, s, 2*s, 53*s, 54*s, 55*s), 55*s + 30*s, 1},
		// Back at 32s; at 43s one interval passed: 1 → 0, then +1.
		{"one decay step", errs(0, s, 2*s, 43*s, 44*s, 45*s), 45*s + 30*s, 1},
		{"non-errors never eject", []event{{0, false}, {s, false}, {2 * s, false}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := testSet(t, 1)
			ep := set.Endpoints()[0]
			o := NewOutlier(cfg, set)
			for _, e := range tt.events {
				o.Observe(ep, e.err, t0.Add(e.at))
			}
			var want time.Time
			if tt.wantUntil != 0 {
				want = t0.Add(tt.wantUntil)
			}
			if got := ep.State.EjectedUntil(); !got.Equal(want) {
				t.Fatalf("ejected until %v, want %v", got.Sub(t0), tt.wantUntil)
			}
			if got := o.Ejections(ep); got != tt.wantTimes {
				t.Fatalf("ejection multiplier %d, want %d", got, tt.wantTimes)
			}
		})
	}
}

func TestOutlierMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		name    string
		eps     int
		percent int
		want    int // endpoints ejected when all of them fail
	}{
		{"half of four", 4, 50, 2},
		{"ten percent of four still ejects one", 4, 10, 1},
		{"zero percent still ejects one", 3, 0, 1},
		{"all", 3, 100, 3},
		{"single endpoint", 1, 50, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := testSet(t, tt.eps)
			o := NewOutlier(OutlierConfig{MaxServerErrors: 1, Interval: time.Second, BaseEjection: time.Minute, MaxEjectionPercent: tt.percent}, set)
			for _, ep := range set.Endpoints() {
				o.Observe(ep, true, t0)
			}
			n := 0
			for _, ep := range set.Endpoints() {
				if !ep.State.Available(t0.UnixNano()) {
					n++
				}
			}
			if n != tt.want {
				t.Fatalf("%d ejected, want %d", n, tt.want)
			}
		})
	}
}

func TestOutlierEjectedEndpointReturns(t *testing.T) {
	set := testSet(t, 2)
	ep := set.Endpoints()[0]
	o := NewOutlier(OutlierConfig{MaxServerErrors: 1, Interval: time.Second, BaseEjection: 5 * time.Second, MaxEjectionPercent: 50}, set)
	o.Observe(ep, true, t0)
	if ep.State.Available(t0.Add(4 * time.Second).UnixNano()) {
		t.Fatal("available during its ejection")
	}
	if !ep.State.Available(t0.Add(5 * time.Second).UnixNano()) {
		t.Fatal("not available once the ejection ended")
	}
	// The budget frees up once the ejection ends.
	other := set.Endpoints()[1]
	o.Observe(other, true, t0.Add(time.Second))
	if !other.State.Available(t0.Add(time.Second).UnixNano()) {
		t.Fatal("50% of 2: the second endpoint must not be ejected while the first is")
	}
	o.Observe(other, true, t0.Add(6*time.Second))
	if other.State.Available(t0.Add(6 * time.Second).UnixNano()) {
		t.Fatal("the second endpoint must be ejected once the first is back")
	}
	o.Lift()
	if !other.State.Available(t0.Add(6*time.Second).UnixNano()) || o.Ejections(other) != 0 {
		t.Fatal("Lift must end ejections and forget multipliers")
	}
}

func TestServerError(t *testing.T) {
	tests := []struct {
		code    int
		failure string
		want    bool
	}{
		{200, "", false},
		{404, "", false},
		{429, "", false},
		{500, "", true},
		{503, "status_503", true},
		{0, "connect", true},
		{0, "reset", true},
		{0, "timeout", true},
		{499, "client_gone", false},
		{503, "no_endpoint", false},
		{429, "shed", false},
	}
	for _, tt := range tests {
		if got := ServerError(tt.code, tt.failure); got != tt.want {
			t.Errorf("ServerError(%d, %q) = %v, want %v", tt.code, tt.failure, got, tt.want)
		}
	}
}
