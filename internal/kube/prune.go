package kube

import (
	"errors"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// plan is the outcome of validating a selection: what can be served and
// why the rest cannot.
type plan struct {
	// served passed config.Prepare; nil when nothing can be served.
	served *config.Resources
	// problems of every dropped resource, in the order found.
	problems map[config.ObjectKey][]*config.FieldError
	// global problems belong to no single resource (e.g. no Mesh).
	global []*config.FieldError
}

// maxPruneRounds bounds the drop-and-revalidate loop. Each round drops at
// least one resource, and dependency chains are short (GatewayRoute ->
// VirtualService -> VirtualRouter -> VirtualNode -> Mesh).
const maxPruneRounds = 16

// prune validates res (which it defaults in place) and drops every
// resource with a problem, then those that depended on a dropped one,
// until the rest is valid.
func prune(res *config.Resources) *plan {
	p := &plan{problems: map[config.ObjectKey][]*config.FieldError{}}
	byName := map[string]config.ObjectKey{}
	forEach(res, func(kind string, o metav1.Object) {
		k := keyOf(kind, o)
		byName[kind+"/"+k.DisplayName()] = k
	})
	cur := res
	for range maxPruneRounds {
		err := config.Prepare(cur, config.Options{Kubernetes: true})
		if err == nil {
			p.served = cur
			return p
		}
		var list config.ErrorList
		if !errors.As(err, &list) {
			p.global = append(p.global, &config.FieldError{Reason: err.Error()})
			return p
		}
		drop := map[config.ObjectKey]bool{}
		for _, fe := range list {
			k, ok := byName[fe.Kind+"/"+fe.Name]
			if !ok {
				p.global = append(p.global, fe)
				continue
			}
			p.problems[k] = append(p.problems[k], fe)
			drop[k] = true
		}
		if len(drop) == 0 {
			return p // only problems no resource can be dropped for
		}
		cur = without(cur, drop)
		p.global = p.global[:0]
	}
	return p
}

// plan prunes the selection without the resources that have problems
// from selecting, and reports those with the rest.
func (sel *selection) plan() *plan {
	drop := make(map[config.ObjectKey]bool, len(sel.problems))
	for k := range sel.problems {
		drop[k] = true
	}
	p := prune(without(sel.res, drop))
	for k, fes := range sel.problems {
		p.problems[k] = append(fes, p.problems[k]...)
	}
	return p
}

// without is res minus the resources in drop.
func without(res *config.Resources, drop map[config.ObjectKey]bool) *config.Resources {
	return &config.Resources{
		Meshes:          filter(res.Meshes, v1.KindMesh, drop),
		VirtualNodes:    filter(res.VirtualNodes, v1.KindVirtualNode, drop),
		VirtualServices: filter(res.VirtualServices, v1.KindVirtualService, drop),
		VirtualRouters:  filter(res.VirtualRouters, v1.KindVirtualRouter, drop),
		VirtualGateways: filter(res.VirtualGateways, v1.KindVirtualGateway, drop),
		GatewayRoutes:   filter(res.GatewayRoutes, v1.KindGatewayRoute, drop),
	}
}

func filter[T metav1.Object](objs []T, kind string, drop map[config.ObjectKey]bool) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if !drop[keyOf(kind, o)] {
			out = append(out, o)
		}
	}
	return out
}
