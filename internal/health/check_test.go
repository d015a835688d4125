package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

func TestCheckStateTransitions(t *testing.T) {
	tests := []struct {
		name    string
		results string // o: success, x: failure
		want    string // state after each result: H healthy, U unhealthy
	}{
		{"starts healthy, stays", "ooo", "HHH"},
		{"needs 3 failures in a row", "xxoxxx", "HHHHHU"},
		{"needs 2 successes in a row to recover", "xxxoxoo", "HHUUUUH"},
		{"flapping never flips", "xoxoxo", "HHHHHH"},
		{"recovers then fails again", "xxxooxxx", "HHUUHHHU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s CheckState
			got := ""
			for _, r := range tt.results {
				s.Observe(r == 'o', 2, 3)
				if s.Unhealthy {
					got += "U"
				} else {
					got += "H"
				}
			}
			if got != tt.want {
				t.Fatalf("states %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProbes(t *testing.T) {
	var code atomic.Int64
	code.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	closed := closedAddr(t)
	grpcAddr, serving := grpcHealthServer(t)

	tests := []struct {
		name  string
		addr  string
		cfg   CheckConfig
		setup func()
		ok    bool
	}{
		{"http 200", addr, CheckConfig{Protocol: v1.ProtocolHTTP, Path: "/healthz"}, nil, true},
		{"http 204", addr, CheckConfig{Protocol: v1.ProtocolHTTP, Path: "/healthz"}, func() { code.Store(204) }, true},
		{"http 503", addr, CheckConfig{Protocol: v1.ProtocolHTTP, Path: "/healthz"}, func() { code.Store(503) }, false},
		{"http wrong path", addr, CheckConfig{Protocol: v1.ProtocolHTTP, Path: "/"}, func() { code.Store(200) }, false},
		{"http refused", closed, CheckConfig{Protocol: v1.ProtocolHTTP, Path: "/"}, nil, false},
		{"tcp open", addr, CheckConfig{Protocol: v1.ProtocolTCP}, nil, true},
		{"tcp refused", closed, CheckConfig{Protocol: v1.ProtocolTCP}, nil, false},
		{"grpc serving", grpcAddr, CheckConfig{Protocol: v1.ProtocolGRPC}, func() { serving.Store(true) }, true},
		{"grpc not serving", grpcAddr, CheckConfig{Protocol: v1.ProtocolGRPC}, func() { serving.Store(false) }, false},
		{"port override", closed, CheckConfig{Protocol: v1.ProtocolTCP, Port: portOf(t, addr)}, nil, true},
	}
	m := NewManager(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			tt.cfg.Timeout = 2 * time.Second
			c := newChecker(&discovery.Endpoint{Addr: tt.addr}, tt.cfg, m.h1, m.h2c, m.log)
			err := c.probe(context.Background())
			if (err == nil) != tt.ok {
				t.Fatalf("probe error %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func portOf(t *testing.T, addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// grpcHealthServer answers grpc.health.v1.Health/Check over h2c with
// SERVING or NOT_SERVING.
func grpcHealthServer(t *testing.T) (string, *atomic.Bool) {
	t.Helper()
	var serving atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/grpc.health.v1.Health/Check" || r.ProtoMajor != 2 {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		status := byte(2)
		if serving.Load() {
			status = 1
		}
		w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
		w.Header().Set("Grpc-Status", "0")
	})
	srv := httptest.NewUnstartedServer(h)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &serving
}

func TestManagerChecksAndLiftsOnRemoval(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	set := discovery.NewRegistry(nil).Ensure(discovery.Key{Node: "vn", Port: 1},
		discovery.Spec{Static: []string{strings.TrimPrefix(srv.URL, "http://"), closedAddr(t)}})
	m := NewManager(nil)
	defer m.Close()
	path := "/health"
	hc := &v1.HealthCheckPolicy{Protocol: v1.ProtocolHTTP, Path: &path, IntervalMillis: 20, TimeoutMillis: 500,
		HealthyThreshold: 2, UnhealthyThreshold: 2}
	od := &v1.OutlierDetection{MaxServerErrors: 1, Interval: v1.Duration{Value: 1, Unit: v1.DurationUnitS},
		BaseEjectionDuration: v1.Duration{Value: 1, Unit: v1.DurationUnitS}, MaxEjectionPercent: 50}
	m.Sync([]Target{{Set: set, HealthCheck: hc, OutlierDetection: od}})
	if m.Checkers() != 2 {
		t.Fatalf("checkers = %d, want 2", m.Checkers())
	}
	var good, bad *discovery.Endpoint
	for _, ep := range set.Endpoints() {
		if strings.HasSuffix(srv.URL, ep.Addr) {
			good = ep
		} else {
			bad = ep
		}
	}
	waitFor(t, "the closed endpoint to turn unhealthy", func() bool { return bad.State.Unhealthy() })
	if good.State.Unhealthy() {
		t.Fatal("the serving endpoint turned unhealthy")
	}
	healthy.Store(false)
	waitFor(t, "the failing endpoint to turn unhealthy", func() bool { return good.State.Unhealthy() })
	healthy.Store(true)
	waitFor(t, "the endpoint to recover", func() bool { return !good.State.Unhealthy() })

	m.Observe(set, good, 502, "")
	if good.State.Available(time.Now().UnixNano()) {
		t.Fatal("a server error with maxServerErrors 1 must eject")
	}
	// A reload with the same settings keeps checkers, verdicts and ejections.
	o := m.Outlier(set)
	m.Sync([]Target{{Set: set, HealthCheck: hc, OutlierDetection: od}})
	if m.Outlier(set) != o || good.State.Available(time.Now().UnixNano()) || !bad.State.Unhealthy() {
		t.Fatal("an identical Sync reset health state")
	}
	// Settings removed: verdicts and ejections are lifted.
	m.Sync([]Target{{Set: set}})
	if m.Checkers() != 0 || bad.State.Unhealthy() || !good.State.Available(time.Now().UnixNano()) {
		t.Fatal("removing healthCheck and outlierDetection must lift their verdicts")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
