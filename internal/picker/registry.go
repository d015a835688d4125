package picker

import (
	"fmt"
	"slices"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// Shared is the long-lived state of one endpoint Set that policies may
// use; it survives config reloads and policy changes.
type Shared struct {
	// Index is the Set's prefix index.
	Index *prefix.Index
}

// Factory builds a policy for a node's configuration.
type Factory func(cfg Config, sh *Shared) (Policy, error)

// Registry maps policy names to factories. It is filled by one explicit
// function (internal/picker/policies.Registry), never by init.
type Registry struct {
	f map[v1.LoadBalancingPolicy]registered
}

type registered struct {
	factory     Factory
	needsPrompt bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{f: map[v1.LoadBalancingPolicy]registered{}}
}

// Register adds a policy; needsPrompt says whether it reads the request's
// prompt (the gateway then reads and inspects the body for it).
func (r *Registry) Register(name v1.LoadBalancingPolicy, needsPrompt bool, f Factory) {
	r.f[name] = registered{factory: f, needsPrompt: needsPrompt}
}

// New builds the policy cfg names.
func (r *Registry) New(cfg Config, sh *Shared) (Policy, error) {
	reg, ok := r.f[cfg.Policy]
	if !ok {
		return nil, fmt.Errorf("load balancing policy %q: unknown (known: %v)", cfg.Policy, r.Names())
	}
	p, err := reg.factory(cfg, sh)
	if err != nil {
		return nil, fmt.Errorf("load balancing policy %q: %w", cfg.Policy, err)
	}
	return p, nil
}

// NeedsPrompt reports whether the named policy reads prompts.
func (r *Registry) NeedsPrompt(name v1.LoadBalancingPolicy) bool { return r.f[name].needsPrompt }

// Names lists the registered policies, sorted.
func (r *Registry) Names() []v1.LoadBalancingPolicy {
	out := make([]v1.LoadBalancingPolicy, 0, len(r.f))
	for n := range r.f {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
