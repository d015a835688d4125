// Package policies registers aimesh's load-balancing policies. Registry is
// the one place a policy is added: no package registers itself.
package policies

import (
	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/inference"
	"github.com/aimesh/aimesh/internal/picker/leastrequest"
	"github.com/aimesh/aimesh/internal/picker/random"
	"github.com/aimesh/aimesh/internal/picker/roundrobin"
)

// Registry returns a registry holding every built-in policy.
func Registry() *picker.Registry {
	r := picker.NewRegistry()
	r.Register(v1.LoadBalancingRoundRobin, false, roundrobin.New)
	r.Register(v1.LoadBalancingRandom, false, random.New)
	r.Register(v1.LoadBalancingLeastRequest, false, leastrequest.New)
	r.Register(v1.LoadBalancingInference, true, inference.New)
	return r
}
