package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Spec says where a Set's endpoints come from. Exactly one of Static and
// DNSName is used; with neither (Kubernetes mode) the Set is fed through
// Update by its owner.
type Spec struct {
	// Static endpoints, host:port each. Hostnames are resolved like DNS.
	Static []string
	// DNSName is resolved every Refresh; Port is added to each address.
	DNSName string
	Port    int
	// LoadBalancer keeps only the first address (App Mesh responseType
	// LOADBALANCER); otherwise every address is an endpoint.
	LoadBalancer bool
	// IPv6 selects AAAA answers; otherwise A answers are used (IPv4_ONLY,
	// App Mesh's default for DNS discovery).
	IPv6 bool
}

// Resolver looks up host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Registry owns every Set and the goroutines that refresh them.
type Registry struct {
	// Refresh is how often DNS names are resolved again (default 5s).
	Refresh  time.Duration
	Resolver Resolver
	Log      *slog.Logger

	mu      sync.Mutex
	entries map[Key]*entry
}

type entry struct {
	set    *Set
	spec   Spec
	cancel context.CancelFunc
	used   bool
}

// NewRegistry returns an empty Registry.
func NewRegistry(log *slog.Logger) *Registry {
	return &Registry{Refresh: 5 * time.Second, Resolver: net.DefaultResolver, Log: log, entries: map[Key]*entry{}}
}

// Begin starts a round of Ensure calls for a new snapshot; End releases
// the Sets the round did not ask for.
func (r *Registry) Begin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		e.used = false
	}
}

// End stops and forgets every Set not ensured since Begin.
func (r *Registry) End() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if !e.used {
			if e.cancel != nil {
				e.cancel()
			}
			delete(r.entries, k)
		}
	}
}

// Ensure returns the Set for k, creating it or changing its source when
// spec differs from the last call. Static specs with IP addresses fill the
// Set before Ensure returns; names are resolved in the background, the
// first time synchronously with a short deadline so a fresh gateway has
// endpoints when it starts serving.
func (r *Registry) Ensure(k Key, spec Spec) *Set {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[k]
	if !ok {
		e = &entry{set: newSet(k)}
		r.entries[k] = e
	} else if specEqual(e.spec, spec) {
		e.used = true
		return e.set
	}
	e.used = true
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	e.spec = spec
	if spec.DNSName == "" && len(spec.Static) == 0 {
		return e.set // fed by its owner
	}
	if addrs, ok := literalAddrs(spec.Static); ok {
		e.set.Update(addrs)
		return e.set
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	first, firstCancel := context.WithTimeout(ctx, 2*time.Second)
	r.resolve(first, e.set, spec)
	firstCancel()
	go r.loop(ctx, e.set, spec)
	return e.set
}

// Close stops every resolver.
func (r *Registry) Close() {
	r.Begin()
	r.End()
}

func (r *Registry) loop(ctx context.Context, s *Set, spec Spec) {
	t := time.NewTicker(r.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, r.Refresh)
			r.resolve(rctx, s, spec)
			cancel()
		}
	}
}

// resolve looks the names up and updates the Set; on failure the last
// good endpoints stay.
func (r *Registry) resolve(ctx context.Context, s *Set, spec Spec) {
	addrs, err := r.lookup(ctx, spec)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			r.Log.Warn("endpoint resolution failed; keeping the last endpoints", "node", s.key.Node, "port", s.key.Port, "err", err)
		}
		return
	}
	if s.Update(addrs) {
		r.Log.Debug("endpoints changed", "node", s.key.Node, "port", s.key.Port, "endpoints", addrs)
	}
}

func (r *Registry) lookup(ctx context.Context, spec Spec) ([]string, error) {
	network := "ip4"
	if spec.IPv6 {
		network = "ip6"
	}
	if spec.DNSName != "" {
		ips, err := r.Resolver.LookupNetIP(ctx, network, spec.DNSName)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", spec.DNSName, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", spec.DNSName)
		}
		if spec.LoadBalancer {
			ips = ips[:1]
		}
		out := make([]string, len(ips))
		for i, ip := range ips {
			out[i] = net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(spec.Port))
		}
		return out, nil
	}
	var out []string
	for _, hp := range spec.Static {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return nil, fmt.Errorf("static endpoint %q: %w", hp, err)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			out = append(out, hp)
			continue
		}
		ips, err := r.Resolver.LookupNetIP(ctx, network, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, ip := range ips {
			out = append(out, net.JoinHostPort(ip.Unmap().String(), port))
		}
	}
	return out, nil
}

// literalAddrs reports whether every static endpoint is an IP literal.
func literalAddrs(static []string) ([]string, bool) {
	if len(static) == 0 {
		return nil, false
	}
	for _, hp := range static {
		host, _, err := net.SplitHostPort(hp)
		if err != nil {
			return nil, false
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, false
		}
	}
	return static, true
}

func specEqual(a, b Spec) bool {
	if a.DNSName != b.DNSName || a.Port != b.Port || a.LoadBalancer != b.LoadBalancer || a.IPv6 != b.IPv6 || len(a.Static) != len(b.Static) {
		return false
	}
	for i := range a.Static {
		if a.Static[i] != b.Static[i] {
			return false
		}
	}
	return true
}
