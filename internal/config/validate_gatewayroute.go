package config

import (
	"fmt"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// gatewayRouteCheck carries what the checks of one GatewayRoute need.
type gatewayRouteCheck struct {
	*rep
	gateway   string           // display name of the gateway, "" when unresolved
	listeners []v1.PortMapping // the gateway's listeners with a valid port and protocol
	partial   bool             // some listener of the gateway is invalid
}

// gatewayRoute checks a route of a gateway, its gateway and its target.
func (v *validator) gatewayRoute(gr *v1.GatewayRoute) {
	o := v.report(v1.KindGatewayRoute, gr.ObjectMeta)
	o.meshRef(gr.Spec.MeshRef)
	spec := field.NewPath("spec")
	o.priority(spec.Child("priority"), gr.Spec.Priority)
	o.exactlyOne(spec, []string{"httpRoute", "http2Route", "grpcRoute"},
		gr.Spec.HTTPRoute != nil, gr.Spec.HTTP2Route != nil, gr.Spec.GRPCRoute != nil)
	gc := &gatewayRouteCheck{rep: o}
	if g := o.gatewayRef(spec.Child("virtualGatewayRef"), gr.Spec.VirtualGatewayRef); g != nil {
		gc.gateway = g.Name
		for _, l := range g.Spec.Listeners {
			pm := v1.PortMapping{Port: l.PortMapping.Port, Protocol: l.PortMapping.Protocol}
			if pm.Port < 1 || pm.Port > maxPort || !contains(gatewayProtocols, string(pm.Protocol)) {
				gc.partial = true
				continue
			}
			gc.listeners = append(gc.listeners, pm)
		}
	}
	if r := gr.Spec.HTTPRoute; r != nil {
		gc.httpRoute(spec.Child("httpRoute"), r, "http")
	}
	if r := gr.Spec.HTTP2Route; r != nil {
		gc.httpRoute(spec.Child("http2Route"), r, "http2")
	}
	if r := gr.Spec.GRPCRoute; r != nil {
		p := spec.Child("grpcRoute")
		gc.listenerFor(p, "grpc", r.Match.Port)
		mp := p.Child("match")
		if r.Match.ServiceName != nil {
			gc.length(mp.Child("serviceName"), *r.Match.ServiceName, 1, maxMatchString)
		}
		gc.hostnameMatch(mp.Child("hostname"), r.Match.Hostname)
		gc.metadataMatches(mp.Child("metadata"), r.Match.Metadata)
		gc.target(p.Child("action", "target"), r.Action.Target)
		if rw := r.Action.Rewrite; rw != nil {
			gc.hostnameRewrite(p.Child("action", "rewrite", "hostname"), rw.Hostname)
		}
	}
}

// httpRoute checks an httpRoute or http2Route of a gateway.
func (gc *gatewayRouteCheck) httpRoute(p *field.Path, r *v1.HTTPGatewayRoute, proto string) {
	m, mp := &r.Match, p.Child("match")
	gc.listenerFor(p, proto, m.Port)
	if m.Prefix != nil {
		gc.pathPrefix(mp.Child("prefix"), *m.Prefix)
	}
	gc.pathMatch(mp.Child("path"), m.Path)
	gc.queryParameters(mp.Child("queryParameters"), m.QueryParameters)
	gc.method(mp.Child("method"), m.Method)
	gc.hostnameMatch(mp.Child("hostname"), m.Hostname)
	gc.headerMatches(mp.Child("headers"), m.Headers)
	gc.target(p.Child("action", "target"), r.Action.Target)
	rw := r.Action.Rewrite
	if rw == nil {
		return
	}
	rp := p.Child("action", "rewrite")
	if rw.Prefix != nil && rw.Path != nil {
		gc.errorf(rp, "set at most one of prefix, path (got prefix and path)")
	}
	if pr := rw.Prefix; pr != nil {
		pp := rp.Child("prefix")
		gc.exactlyOne(pp, []string{"defaultPrefix", "value"}, pr.DefaultPrefix != nil, pr.Value != nil)
		if pr.DefaultPrefix != nil {
			gc.enum(pp.Child("defaultPrefix"), *pr.DefaultPrefix, enabledDisabled)
		}
		if pr.Value != nil && gc.length(pp.Child("value"), *pr.Value, 1, maxMatchString) {
			gc.pathPrefix(pp.Child("value"), *pr.Value)
		}
		if m.Prefix == nil {
			gc.errorf(pp, "needs %s: a prefix rewrite replaces the matched prefix", mp.Child("prefix"))
		}
	}
	if pa := rw.Path; pa != nil && gc.length(rp.Child("path", "exact"), pa.Exact, 1, maxMatchString) {
		gc.pathPrefix(rp.Child("path", "exact"), pa.Exact)
	}
	gc.hostnameRewrite(rp.Child("hostname"), rw.Hostname)
}

func (gc *gatewayRouteCheck) hostnameRewrite(p *field.Path, h *v1.GatewayRouteHostnameRewrite) {
	if h != nil && h.DefaultTargetHostname != nil {
		gc.enum(p.Child("defaultTargetHostname"), *h.DefaultTargetHostname, enabledDisabled)
	}
}

// listenerFor checks that the gateway has a listener for the route's
// protocol and that match.port, when set, is one of them.
func (gc *gatewayRouteCheck) listenerFor(p *field.Path, proto string, port *v1.PortNumber) {
	portPath := p.Child("match", "port")
	if port != nil && !gc.port(portPath, *port) {
		port = nil
	}
	if gc.gateway == "" {
		return // reported on the ref
	}
	var has bool
	for _, l := range gc.listeners {
		has = has || string(l.Protocol) == proto
	}
	if !has {
		if gc.partial || len(gc.listeners) == 0 {
			return // reported on the gateway
		}
		gc.errorf(p, "VirtualGateway %q has no %s listener (spec.listeners: %s): attach the route to a gateway that has one, or write it as the kind of an existing listener",
			gc.gateway, proto, portList(gc.listeners))
		return
	}
	if port == nil {
		return
	}
	for _, l := range gc.listeners {
		if l.Port != *port {
			continue
		}
		if string(l.Protocol) != proto {
			gc.errorf(portPath, "listener %d/%s of VirtualGateway %q is not %s: this route needs %s listener", l.Port, l.Protocol, gc.gateway, proto, an(proto))
		}
		return
	}
	if gc.partial {
		return
	}
	gc.errorf(portPath, "port %d is not a listener of VirtualGateway %q (spec.listeners: %s)", *port, gc.gateway, portList(gc.listeners))
}

// target checks the VirtualService a gateway route sends to and the port:
// a listener of the service's router (or node), required when it has
// several.
func (gc *gatewayRouteCheck) target(p *field.Path, t v1.GatewayRouteTarget) {
	s := gc.serviceRef(p.Child("virtualService", "virtualServiceName"), t.VirtualService.VirtualServiceName)
	pp := p.Child("port")
	port := t.Port
	if port != nil && !gc.port(pp, *port) {
		port = nil
	}
	if s == nil {
		return
	}
	owner, ls := gc.providerListeners(s)
	if owner == "" || len(ls) == 0 {
		return // reported on the VirtualService or its provider
	}
	var l *v1.PortMapping
	switch {
	case port != nil:
		for i := range ls {
			if ls[i].Port == *port {
				l = &ls[i]
			}
		}
		if l == nil {
			gc.errorf(pp, "%s, which serves VirtualService %q, has no listener on port %d (listeners: %s)", owner, s.Name, *port, portList(ls))
			return
		}
	case len(ls) > 1 && t.Port == nil:
		gc.errorf(pp, "required: %s, which serves VirtualService %q, has several listeners (%s); name one", owner, s.Name, portList(ls))
		return
	case len(ls) == 1:
		l = &ls[0]
	default:
		return
	}
	if l.Protocol == v1.ProtocolTCP {
		at := p.Child("virtualService", "virtualServiceName")
		if port != nil {
			at = pp
		}
		gc.errorf(at, "%s listener %d is tcp: a gateway route needs an http, http2 or grpc listener", owner, l.Port)
	}
}

// providerListeners is the router or node that provides s, as a message
// names it, and its listeners; "" when the provider does not resolve.
func (gc *gatewayRouteCheck) providerListeners(s *v1.VirtualService) (string, []v1.PortMapping) {
	pv := s.Spec.Provider
	if pv == nil || (pv.VirtualNode != nil) == (pv.VirtualRouter != nil) {
		return "", nil
	}
	var ls []v1.PortMapping
	if pv.VirtualRouter != nil {
		vr, ok := gc.v.routers[nsName{s.Namespace, pv.VirtualRouter.VirtualRouterName}]
		if !ok {
			return "", nil
		}
		for _, l := range vr.Spec.Listeners {
			ls = append(ls, l.PortMapping)
		}
		return fmt.Sprintf("VirtualRouter %q", vr.Name), ls
	}
	n, ok := gc.v.nodes[nsName{s.Namespace, pv.VirtualNode.VirtualNodeName}]
	if !ok {
		return "", nil
	}
	for _, l := range n.Spec.Listeners {
		ls = append(ls, l.PortMapping)
	}
	return fmt.Sprintf("VirtualNode %q", n.Name), ls
}
