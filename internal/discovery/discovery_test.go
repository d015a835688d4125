package discovery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestSetUpdateKeepsEndpointIdentity(t *testing.T) {
	s := newSet(Key{Node: "n", Port: 80})
	if !s.Update([]string{"10.0.0.2:80", "10.0.0.1:80"}) {
		t.Fatal("first update reported no change")
	}
	a := s.Endpoints()[0]
	a.InFlight.Add(3)
	if s.Update([]string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80"}) {
		t.Fatal("same addresses in another order (and a duplicate) reported a change")
	}
	if !s.Update([]string{"10.0.0.1:80", "10.0.0.3:80"}) {
		t.Fatal("changed addresses reported no change")
	}
	eps := s.Endpoints()
	if len(eps) != 2 || eps[0] != a || eps[0].InFlight.Load() != 3 {
		t.Fatalf("endpoint 10.0.0.1 lost its state across the update: %+v", eps)
	}
	if s.Version() != 2 {
		t.Fatalf("version = %d, want 2", s.Version())
	}
}

// scriptedResolver answers from a table a test changes; it stands in for
// a DNS server whose records change.
type scriptedResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	err   error
	calls int
}

func (r *scriptedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	return r.addrs[host], nil
}

func (r *scriptedResolver) set(host string, err error, ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	r.addrs[host] = nil
	for _, ip := range ips {
		r.addrs[host] = append(r.addrs[host], netip.MustParseAddr(ip))
	}
}

func addrsOf(s *Set) []string {
	var out []string
	for _, e := range s.Endpoints() {
		out = append(out, e.Addr)
	}
	return out
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

func TestDNSReResolvesAndKeepsLastGoodOnFailure(t *testing.T) {
	res := &scriptedResolver{addrs: map[string][]netip.Addr{}}
	res.set("llm.svc", nil, "10.1.0.1", "10.1.0.2")
	r := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Resolver, r.Refresh = res, 20*time.Millisecond
	defer r.Close()

	s := r.Ensure(Key{Node: "llm", Port: 8000}, Spec{DNSName: "llm.svc", Port: 8000})
	if got := addrsOf(s); len(got) != 2 || got[0] != "10.1.0.1:8000" {
		t.Fatalf("first resolution not applied before Ensure returned: %v", got)
	}
	res.set("llm.svc", nil, "10.1.0.3")
	waitFor(t, "re-resolution", func() bool { a := addrsOf(s); return len(a) == 1 && a[0] == "10.1.0.3:8000" })

	res.set("llm.svc", errors.New("SERVFAIL"))
	before := res.calls
	waitFor(t, "a failed lookup", func() bool { res.mu.Lock(); defer res.mu.Unlock(); return res.calls > before+1 })
	if a := addrsOf(s); len(a) != 1 || a[0] != "10.1.0.3:8000" {
		t.Fatalf("a failed lookup replaced the last good endpoints: %v", a)
	}
}

func TestDNSLoadBalancerKeepsFirstAddress(t *testing.T) {
	res := &scriptedResolver{addrs: map[string][]netip.Addr{}}
	res.set("lb", nil, "10.2.0.9", "10.2.0.1")
	r := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Resolver = res
	defer r.Close()
	s := r.Ensure(Key{Node: "lb", Port: 80}, Spec{DNSName: "lb", Port: 80, LoadBalancer: true})
	if a := addrsOf(s); len(a) != 1 || a[0] != "10.2.0.9:80" {
		t.Fatalf("LOADBALANCER kept %v, want only the first answer", a)
	}
}

func TestRegistryRoundsReleaseUnusedSets(t *testing.T) {
	r := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	k1, k2 := Key{Node: "a", Port: 1}, Key{Node: "b", Port: 2}
	r.Begin()
	s1 := r.Ensure(k1, Spec{Static: []string{"127.0.0.1:1"}})
	r.Ensure(k2, Spec{Static: []string{"127.0.0.1:2"}})
	r.End()
	s1.Endpoints()[0].InFlight.Add(1)

	r.Begin()
	if again := r.Ensure(k1, Spec{Static: []string{"127.0.0.1:1"}}); again != s1 {
		t.Fatal("a reload got a new Set for an unchanged node: endpoint state would be lost")
	}
	r.End()
	r.mu.Lock()
	_, kept := r.entries[k2]
	r.mu.Unlock()
	if kept {
		t.Fatal("a Set the new round did not use was kept")
	}
	if s1.Endpoints()[0].InFlight.Load() != 1 {
		t.Fatal("endpoint state lost")
	}
}

func TestStaticHostnamesResolve(t *testing.T) {
	r := NewRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	s := r.Ensure(Key{Node: "local", Port: 9}, Spec{Static: []string{"localhost:9"}})
	found := false
	for _, a := range addrsOf(s) {
		if a == "127.0.0.1:9" {
			found = true
		}
	}
	if !found {
		t.Fatalf("localhost:9 resolved to %v, want 127.0.0.1:9 among them", addrsOf(s))
	}
}
