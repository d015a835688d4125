package config

import (
	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// action checks an http, http2 or grpc route's targets and fallback.
func (rc *routeCheck) action(p *field.Path, a *v1.RouteAction, proto string) {
	rc.weightedTargets(p.Child("weightedTargets"), a.WeightedTargets, proto)
	if a.Fallback == nil {
		return
	}
	fp := p.Child("fallback")
	rc.entries(fp, len(a.Fallback), 1, maxTargets)
	for i, t := range a.Fallback {
		rc.target(fp.Index(i), t.VirtualNode, t.Port, proto)
	}
}

// weightedTargets checks 1-10 targets whose weights are 0-100 and add up
// to more than 0.
func (rc *routeCheck) weightedTargets(p *field.Path, ts []v1.WeightedTarget, proto string) {
	rc.entries(p, len(ts), 1, maxTargets)
	type key struct {
		node string
		port v1.PortNumber
	}
	seen := map[key]int{}
	var sum int64
	weightsOK := true
	for i, t := range ts {
		tp := p.Index(i)
		if rc.between(tp.Child("weight"), t.Weight, 0, 100) {
			sum += t.Weight
		} else {
			weightsOK = false
		}
		k := key{t.VirtualNode, 0}
		if t.Port != nil {
			k.port = *t.Port
		}
		if j, dup := seen[k]; dup && t.VirtualNode != "" {
			rc.errorf(tp, "duplicate target: VirtualNode %q on the same port is already the target at %s", t.VirtualNode, p.Index(j))
		} else {
			seen[k] = i
		}
		rc.target(tp, t.VirtualNode, t.Port, proto)
	}
	if len(ts) > 0 && weightsOK && sum == 0 {
		rc.errorf(p, "weights add up to 0: give at least one target a weight above 0")
	}
}

// target checks that a weighted or fallback target names a VirtualNode of
// the router's namespace and mesh, and a listener of it that suits the
// route's protocol. p is the target (e.g. ...weightedTargets[1]).
func (rc *routeCheck) target(p *field.Path, node string, port *v1.PortNumber, proto string) {
	np := p.Child("virtualNode")
	portOK := port == nil || rc.port(p.Child("port"), *port)
	if node == "" {
		rc.errorf(np, "required: the name of a VirtualNode")
		return
	}
	n, ok := rc.v.nodes[nsName{rc.ns, node}]
	if !ok {
		rc.errorf(np, "%s", notFound(v1.KindVirtualNode, node, rc.ns, rc.v.nodes))
		return
	}
	rc.sameMesh(np, v1.KindVirtualNode, node, n.Spec.MeshRef)
	if !portOK {
		return
	}
	l := rc.nodeListener(p, n, port)
	if l == nil || !contains(protocols, string(l.Protocol)) || suits(proto, l.Protocol) {
		return
	}
	at := np
	if port != nil {
		at = p.Child("port")
	}
	rc.errorf(at, "VirtualNode %q listener %d is %s: %s route needs %s", node, l.Port, l.Protocol, an(proto), protocolNeed(proto))
}

// nodeListener picks the listener of n a target sends to: the one on port,
// or the only one. It reports, at p (the target), what stops it.
func (rc *routeCheck) nodeListener(p *field.Path, n *v1.VirtualNode, port *v1.PortNumber) *v1.PortMapping {
	ls := make([]v1.PortMapping, len(n.Spec.Listeners))
	for i, l := range n.Spec.Listeners {
		ls[i] = l.PortMapping
	}
	switch {
	case len(ls) == 0:
		rc.errorf(p.Child("virtualNode"), "VirtualNode %q has no listeners to send traffic to", n.Name)
	case port != nil:
		for i := range ls {
			if ls[i].Port == *port {
				return &ls[i]
			}
		}
		rc.errorf(p.Child("port"), "VirtualNode %q has no listener on port %d (listeners: %s)", n.Name, *port, portList(ls))
	case len(ls) > 1:
		rc.errorf(p.Child("port"), "required: VirtualNode %q has several listeners (%s); name one", n.Name, portList(ls))
	default:
		return &ls[0]
	}
	return nil
}

// suits reports whether a route of protocol proto can send to a listener
// of protocol lp: tcp routes to tcp listeners, the others to the others.
func suits(proto string, lp v1.PortProtocol) bool {
	return (proto == "tcp") == (lp == v1.ProtocolTCP)
}

func protocolNeed(proto string) string {
	if proto == "tcp" {
		return "a tcp listener"
	}
	return "an http, http2 or grpc listener"
}
