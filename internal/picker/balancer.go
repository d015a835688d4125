package picker

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// Target is one endpoint Set to balance and its node's configuration.
type Target struct {
	Set           *discovery.Set
	LoadBalancing *v1.LoadBalancing
	ModelServer   *v1.ModelServer
}

// Balancer is the long-lived owner of every Set's policy and shared state
// (the prefix index). Sync installs the policies of a new configuration,
// keeping the state of Sets whose configuration did not change; Pick is
// lock free.
type Balancer struct {
	reg    *Registry
	mu     sync.Mutex // serialises Sync
	states atomic.Pointer[map[*discovery.Set]*setState]
	def    *setState
}

type setState struct {
	cfg         Config
	policy      Policy
	needsPrompt bool
	shared      *Shared
	version     atomic.Int64 // the Set version the index was trimmed to
}

// NewBalancer returns a Balancer building policies from reg. Sets it was
// not told about are balanced round robin (reg must have roundRobin).
func NewBalancer(reg *Registry) (*Balancer, error) {
	b := &Balancer{reg: reg}
	m := map[*discovery.Set]*setState{}
	b.states.Store(&m)
	cfg := ConfigFrom(nil, nil)
	sh := &Shared{Index: prefix.New(cfg.MaxBlocks)}
	p, err := reg.New(cfg, sh)
	if err != nil {
		return nil, fmt.Errorf("default policy: %w", err)
	}
	b.def = &setState{cfg: cfg, policy: p, shared: sh}
	return b, nil
}

// Sync makes ts the balanced Sets. A Set whose configuration is unchanged
// keeps its policy (and round-robin cursor); one whose prefix sizing is
// unchanged keeps its prefix index. Sets not in ts are forgotten. On
// error nothing changes.
func (b *Balancer) Sync(ts []Target) error {
	p, err := b.Prepare(ts)
	if err != nil {
		return err
	}
	b.Commit(p)
	return nil
}

// Prepared is a configuration built by Prepare, not yet in use.
type Prepared struct {
	states map[*discovery.Set]*setState
}

// Commit puts a prepared configuration in use. Configurations must be
// prepared and committed one at a time, in order.
func (b *Balancer) Commit(p *Prepared) { b.states.Store(&p.states) }

// Prepare builds the policies for ts, reusing the current state where the
// configuration allows (see Sync), without putting them in use.
func (b *Balancer) Prepare(ts []Target) (*Prepared, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := *b.states.Load()
	next := make(map[*discovery.Set]*setState, len(ts))
	var errs []error
	for _, t := range ts {
		if t.Set == nil || next[t.Set] != nil {
			continue
		}
		cfg := ConfigFrom(t.LoadBalancing, t.ModelServer)
		old := cur[t.Set]
		if old != nil && old.cfg == cfg {
			next[t.Set] = old
			continue
		}
		sh := &Shared{}
		if old != nil && old.cfg.BlockBytes == cfg.BlockBytes && old.cfg.MaxBlocks == cfg.MaxBlocks {
			sh.Index = old.shared.Index
		} else {
			sh.Index = prefix.New(cfg.MaxBlocks)
		}
		p, err := b.reg.New(cfg, sh)
		if err != nil {
			k := t.Set.Key()
			errs = append(errs, fmt.Errorf("VirtualNode %s port %d: %w", k.Node, k.Port, err))
			continue
		}
		next[t.Set] = &setState{cfg: cfg, policy: p, needsPrompt: b.reg.NeedsPrompt(cfg.Policy), shared: sh}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Prepared{states: next}, nil
}

func (b *Balancer) state(set *discovery.Set) *setState {
	if st, ok := (*b.states.Load())[set]; ok {
		return st
	}
	return b.def
}

// NeedsPrompt reports whether the Set's policy reads the request prompt.
func (b *Balancer) NeedsPrompt(set *discovery.Set) bool { return b.state(set).needsPrompt }

// Config returns the configuration the Set is balanced with.
func (b *Balancer) Config(set *discovery.Set) Config { return b.state(set).cfg }

// Index returns the Set's prefix index (for metrics and tests).
func (b *Balancer) Index(set *discovery.Set) *prefix.Index { return b.state(set).shared.Index }

// Pick chooses an endpoint of set for req, avoiding tried ones while
// others are available. It returns nil when no endpoint is available and
// ErrShed when req is sheddable and every candidate is saturated.
func (b *Balancer) Pick(set *discovery.Set, req *Request, tried []*discovery.Endpoint) (*discovery.Endpoint, error) {
	return b.PickAt(set, req, tried, time.Now())
}

// PickAt is Pick at a given time.
func (b *Balancer) PickAt(set *discovery.Set, req *Request, tried []*discovery.Endpoint, now time.Time) (*discovery.Endpoint, error) {
	st := b.state(set)
	eps := set.Endpoints()
	if v := set.Version(); st.version.Load() != v && st != b.def {
		st.version.Store(v)
		st.shared.Index.Retain(eps)
	}
	req.cands = Gather(req.cands[:0], eps, tried, now, &st.cfg)
	if len(req.cands) == 0 {
		return nil, nil
	}
	if !Admit(req, req.cands) {
		return nil, ErrShed
	}
	i := st.policy.Pick(req, req.cands)
	if i < 0 {
		return nil, nil
	}
	return req.cands[i].Endpoint, nil
}
