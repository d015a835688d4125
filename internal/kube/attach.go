package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// namespaceLabels lists the Namespaces' labels once per sync, when first
// asked for them.
type namespaceLabels struct {
	r      client.Reader
	byName map[string]labels.Set
}

// all maps every Namespace's name to its labels.
func (n *namespaceLabels) all(ctx context.Context) (map[string]labels.Set, error) {
	if n.byName == nil {
		var list corev1.NamespaceList
		if err := n.r.List(ctx, &list); err != nil {
			return nil, fmt.Errorf("list namespaces: %w", err)
		}
		n.byName = make(map[string]labels.Set, len(list.Items))
		for _, o := range list.Items {
			n.byName[o.Name] = labels.Set(o.Labels)
		}
	}
	return n.byName, nil
}

// attachGatewayRoutes sets spec.virtualGatewayRef of every GatewayRoute
// in res without one to the VirtualGateway whose namespaceSelector selects
// the route's namespace (absent: the gateway's own namespace only; empty:
// every namespace), as App Mesh's webhook did. It changes the objects in
// res, which are the cache's deep copies, and never the API server's.
//
// A route that several gateways select is not attached: it is returned
// with a problem naming them. A gateway whose selector does not parse
// selects nothing and is returned with a problem at spec.namespaceSelector.
// A route no gateway selects is left for config.Prepare, which attaches it
// to the only gateway of its namespace or reports that there is none.
func attachGatewayRoutes(ctx context.Context, nsl *namespaceLabels, res *config.Resources) (map[config.ObjectKey][]*config.FieldError, error) {
	problems := map[config.ObjectKey][]*config.FieldError{}
	type candidate struct {
		gw       *v1.VirtualGateway
		selector labels.Selector // nil: the gateway's own namespace only
	}
	var gateways []candidate
	for _, g := range res.VirtualGateways {
		c := candidate{gw: g}
		if s := g.Spec.NamespaceSelector; s != nil {
			sel, err := metav1.LabelSelectorAsSelector(s)
			if err != nil {
				k := keyOf(v1.KindVirtualGateway, g)
				problems[k] = append(problems[k], &config.FieldError{Kind: k.Kind, Name: k.DisplayName(),
					Path: "spec.namespaceSelector", Reason: fmt.Sprintf("invalid label selector: %v", err)})
				continue
			}
			c.selector = sel
		}
		gateways = append(gateways, c)
	}
	for _, gr := range res.GatewayRoutes {
		if gr.Spec.VirtualGatewayRef != nil {
			continue
		}
		var matches []*v1.VirtualGateway
		for _, c := range gateways {
			ok := c.gw.Namespace == gr.Namespace
			switch {
			case c.selector == nil:
			case c.selector.Empty():
				ok = true
			default:
				all, err := nsl.all(ctx)
				if err != nil {
					return nil, err
				}
				ok = c.selector.Matches(all[gr.Namespace])
			}
			if ok {
				matches = append(matches, c.gw)
			}
		}
		switch len(matches) {
		case 0:
		case 1:
			ns := matches[0].Namespace
			gr.Spec.VirtualGatewayRef = &v1.VirtualGatewayReference{Name: matches[0].Name, Namespace: &ns}
		default:
			k := keyOf(v1.KindGatewayRoute, gr)
			problems[k] = append(problems[k], ambiguous(k, matches))
		}
	}
	return problems, nil
}

// ambiguous is the problem of route k, which the gateways gws all select.
func ambiguous(k config.ObjectKey, gws []*v1.VirtualGateway) *config.FieldError {
	names := make([]string, len(gws))
	for i, g := range gws {
		names[i] = g.Namespace + "/" + g.Name
	}
	slices.Sort(names)
	return &config.FieldError{Kind: k.Kind, Name: k.DisplayName(), Path: "spec.virtualGatewayRef",
		Reason: fmt.Sprintf("%d VirtualGateways select namespace %q by their namespaceSelector (%s): set spec.virtualGatewayRef to the one this route attaches to",
			len(gws), k.Namespace, strings.Join(names, ", "))}
}
