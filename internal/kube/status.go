package kube

import (
	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReasonNotServed is Ready's reason when nothing could be served for a
// problem that belongs to no single resource.
const ReasonNotServed = "NotServed"

// desired is the status a resource should have: its three conditions for
// the generation they describe. Messages carry no counters or times, so an
// unchanged outcome writes nothing.
type desired struct {
	generation int64
	conds      []metav1.Condition
}

// computeStatus says what every selected resource's status should be
// after a sync: p is the validation outcome, eps the endpoint resolution
// (nil when it failed), applyErr the gateway's answer.
func computeStatus(sel *selection, p *plan, eps *endpoints, applyErr error) map[config.ObjectKey]desired {
	exists := func(kind, ns, name string) bool {
		_, ok := sel.generations[config.ObjectKey{Kind: kind, Namespace: ns, Name: name}]
		return ok
	}
	routers := map[config.ObjectKey]*v1.VirtualRouter{}
	for _, r := range sel.res.VirtualRouters {
		routers[keyOf(v1.KindVirtualRouter, r)] = r
	}
	global := globalMessages(p)
	out := make(map[config.ObjectKey]desired, len(sel.generations))
	for k, gen := range sel.generations {
		var probs []problem
		for _, fe := range p.problems[k] {
			probs = append(probs, classify(fe, k, exists, routers[k]))
		}
		_, dropped := p.problems[k]
		served := p.served != nil && !dropped
		if eps != nil && served {
			if pr, ok := eps.problems[k]; ok {
				probs = append(probs, pr)
			}
		}
		out[k] = desired{generation: gen, conds: conditions(probs, served, applyErr, global)}
	}
	return out
}

// conditions are Accepted, ResolvedRefs and Ready for one resource.
func conditions(probs []problem, served bool, applyErr error, global []string) []metav1.Condition {
	var invalid, refs []string
	first := ""
	for _, pr := range probs {
		if first == "" {
			first = pr.reason
		}
		if pr.ref {
			refs = append(refs, pr.message)
		} else {
			invalid = append(invalid, pr.message)
		}
	}
	accepted := cond(v1.ConditionAccepted, true, ReasonAccepted, "the resource is valid")
	if len(invalid) > 0 {
		accepted = cond(v1.ConditionAccepted, false, ReasonInvalid, joinMessages(invalid))
	}
	resolved := cond(v1.ConditionResolvedRefs, true, ReasonResolvedRefs, "every reference resolves")
	if len(refs) > 0 {
		reason := ""
		for _, pr := range probs {
			if pr.ref {
				reason = pr.reason
				break
			}
		}
		resolved = cond(v1.ConditionResolvedRefs, false, reason, joinMessages(refs))
	}
	var ready metav1.Condition
	all := append(append([]string(nil), invalid...), refs...)
	switch {
	case !served && first != "":
		ready = cond(v1.ConditionReady, false, first, "not served: "+joinMessages(all))
	case !served:
		msg := "not served: nothing in the mesh can be served"
		if len(global) > 0 {
			msg = "not served: " + joinMessages(global)
		}
		ready = cond(v1.ConditionReady, false, ReasonNotServed, msg)
	case applyErr != nil:
		ready = cond(v1.ConditionReady, false, ReasonApplyFailed,
			joinMessages([]string{"the gateway refused the configuration and keeps serving the previous one, if any: " + applyErr.Error()}))
	case len(refs) > 0:
		ready = cond(v1.ConditionReady, false, first, "served, but: "+joinMessages(refs))
	default:
		ready = cond(v1.ConditionReady, true, ReasonServed, "served by the gateway")
	}
	return []metav1.Condition{accepted, resolved, ready}
}

func cond(typ string, ok bool, reason, msg string) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg}
}
