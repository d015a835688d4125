package config

import (
	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// routeCheck carries what the checks of one router's routes need.
type routeCheck struct {
	*rep
	all       []v1.PortMapping // every listener, for messages
	listeners []v1.PortMapping // the listeners with a valid port and protocol
	// partial is set when a listener has an invalid port or protocol, so
	// "no such listener" would only repeat that error.
	partial bool
}

// virtualRouter checks a router's listeners and its routes.
func (v *validator) virtualRouter(vr *v1.VirtualRouter) {
	o := v.report(v1.KindVirtualRouter, vr.ObjectMeta)
	o.meshRef(vr.Spec.MeshRef)
	spec := field.NewPath("spec")
	rc := &routeCheck{rep: o}
	if len(vr.Spec.Listeners) == 0 {
		o.errorf(spec.Child("listeners"), "required: at least one listener, e.g. {portMapping: {port: 8080, protocol: http}}")
	}
	seen := map[v1.PortNumber]int{}
	for i, l := range vr.Spec.Listeners {
		p := spec.Child("listeners").Index(i).Child("portMapping")
		rc.all = append(rc.all, l.PortMapping)
		portOK := o.listenerPort(p.Child("port"), l.PortMapping.Port, i, seen)
		if o.enum(p.Child("protocol"), string(l.PortMapping.Protocol), protocols) && portOK {
			rc.listeners = append(rc.listeners, l.PortMapping)
		} else {
			rc.partial = true
		}
	}
	names := map[string]int{}
	for i := range vr.Spec.Routes {
		rt := &vr.Spec.Routes[i]
		p := spec.Child("routes").Index(i)
		switch j, dup := names[rt.Name]; {
		case rt.Name == "":
			o.errorf(p.Child("name"), "required: a name unique within the router")
		case dup:
			o.errorf(p.Child("name"), "duplicate route name %q: already used by spec.routes[%d]", rt.Name, j)
		default:
			names[rt.Name] = i
		}
		rc.route(p, rt)
	}
}

// route checks one route of whichever kind it is.
func (rc *routeCheck) route(p *field.Path, rt *v1.Route) {
	rc.priority(p.Child("priority"), rt.Priority)
	rc.exactlyOne(p, []string{"httpRoute", "http2Route", "grpcRoute", "tcpRoute"},
		rt.HTTPRoute != nil, rt.HTTP2Route != nil, rt.GRPCRoute != nil, rt.TCPRoute != nil)
	if rt.HTTPRoute != nil {
		rc.httpRoute(p.Child("httpRoute"), rt.HTTPRoute, "http")
	}
	if rt.HTTP2Route != nil {
		rc.httpRoute(p.Child("http2Route"), rt.HTTP2Route, "http2")
	}
	if r := rt.GRPCRoute; r != nil {
		p := p.Child("grpcRoute")
		rc.listenerFor(p, "grpc", r.Match.Port)
		rc.grpcMatch(p.Child("match"), &r.Match)
		rc.action(p.Child("action"), &r.Action, "grpc")
		if rp := r.RetryPolicy; rp != nil {
			rc.retryPolicy(p.Child("retryPolicy"), rp.MaxRetries, rp.PerRetryTimeout,
				rp.HTTPRetryEvents, rp.TCPRetryEvents, rp.GRPCRetryEvents, true)
		}
		rc.httpTimeout(p.Child("timeout"), r.Timeout)
	}
	if r := rt.TCPRoute; r != nil {
		p := p.Child("tcpRoute")
		var port *v1.PortNumber
		if r.Match != nil {
			port = r.Match.Port
		}
		rc.listenerFor(p, "tcp", port)
		rc.weightedTargets(p.Child("action", "weightedTargets"), r.Action.WeightedTargets, "tcp")
		if r.Timeout != nil {
			rc.optDuration(p.Child("timeout", "idle"), r.Timeout.Idle)
		}
	}
}

// httpRoute checks an httpRoute or http2Route (proto http or http2).
func (rc *routeCheck) httpRoute(p *field.Path, r *v1.HTTPRoute, proto string) {
	rc.listenerFor(p, proto, r.Match.Port)
	rc.httpMatch(p.Child("match"), &r.Match)
	rc.action(p.Child("action"), &r.Action, proto)
	if rp := r.RetryPolicy; rp != nil {
		rc.retryPolicy(p.Child("retryPolicy"), rp.MaxRetries, rp.PerRetryTimeout,
			rp.HTTPRetryEvents, rp.TCPRetryEvents, nil, false)
	}
	rc.httpTimeout(p.Child("timeout"), r.Timeout)
	rc.criticality(p.Child("criticality"), r.Criticality)
}

// listenerFor checks that the router has a listener for the route's
// protocol, that match.port names one, and that match.port is set when the
// router has several listeners. p is the route (e.g. spec.routes[0].httpRoute).
func (rc *routeCheck) listenerFor(p *field.Path, proto string, port *v1.PortNumber) {
	portPath := p.Child("match", "port")
	if port != nil && !rc.port(portPath, *port) {
		return
	}
	if len(rc.all) == 0 {
		return // reported on spec.listeners
	}
	var has bool
	for _, l := range rc.listeners {
		has = has || string(l.Protocol) == proto
	}
	if !has {
		if !rc.partial {
			rc.errorf(p, "the router has no %s listener (spec.listeners: %s): add one, or write the route as the kind of an existing listener",
				proto, portList(rc.all))
		}
		return
	}
	if port == nil {
		if len(rc.all) > 1 {
			rc.errorf(portPath, "required: the router has several listeners (%s); name the %s one this route serves", portList(rc.all), proto)
		}
		return
	}
	for _, l := range rc.listeners {
		if l.Port != *port {
			continue
		}
		if string(l.Protocol) != proto {
			rc.errorf(portPath, "listener %d/%s is not %s: this route needs %s listener", l.Port, l.Protocol, proto, an(proto))
		}
		return
	}
	if !rc.partial {
		rc.errorf(portPath, "port %d is not a listener of this router (spec.listeners: %s)", *port, portList(rc.all))
	}
}

// httpMatch checks an httpRoute's or http2Route's match.
func (rc *routeCheck) httpMatch(p *field.Path, m *v1.HTTPRouteMatch) {
	if m.Prefix == nil && m.Path == nil {
		rc.errorf(p, `set prefix or path (prefix "/" matches every request)`)
	}
	if m.Prefix != nil {
		rc.pathPrefix(p.Child("prefix"), *m.Prefix)
	}
	rc.pathMatch(p.Child("path"), m.Path)
	rc.headerMatches(p.Child("headers"), m.Headers)
	rc.method(p.Child("method"), m.Method)
	rc.scheme(p.Child("scheme"), m.Scheme)
	rc.queryParameters(p.Child("queryParameters"), m.QueryParameters)
	if mm := m.Model; mm != nil {
		mp := p.Child("model")
		rc.exactlyOne(mp, []string{"exact", "prefix", "regex"}, mm.Exact != nil, mm.Prefix != nil, mm.Regex != nil)
		if mm.Exact != nil {
			rc.length(mp.Child("exact"), *mm.Exact, 1, maxMatchString)
		}
		if mm.Prefix != nil {
			rc.length(mp.Child("prefix"), *mm.Prefix, 1, maxMatchString)
		}
		if mm.Regex != nil {
			rc.regex(mp.Child("regex"), *mm.Regex)
		}
	}
}

// grpcMatch checks a grpcRoute's match.
func (rc *routeCheck) grpcMatch(p *field.Path, m *v1.GRPCRouteMatch) {
	if m.ServiceName != nil {
		rc.length(p.Child("serviceName"), *m.ServiceName, 1, maxMatchString)
	}
	if m.MethodName != nil {
		if m.ServiceName == nil {
			rc.errorf(p.Child("methodName"), "needs serviceName: a method is matched within a service")
		}
		rc.length(p.Child("methodName"), *m.MethodName, 1, maxHeaderName)
	}
	rc.metadataMatches(p.Child("metadata"), m.Metadata)
}

// retryPolicy checks a route's retry policy; grpc says whether gRPC
// events are allowed (they are only offered on grpcRoute).
func (rc *routeCheck) retryPolicy(p *field.Path, maxRetries int64, perRetry v1.Duration, httpEv, tcpEv, grpcEv []string, grpc bool) {
	rc.atLeast(p.Child("maxRetries"), maxRetries, 0)
	rc.duration(p.Child("perRetryTimeout"), perRetry)
	rc.events(p.Child("httpRetryEvents"), httpEv, httpRetryEvents, 25)
	rc.events(p.Child("tcpRetryEvents"), tcpEv, tcpRetryEvents, 1)
	rc.events(p.Child("grpcRetryEvents"), grpcEv, grpcRetryEvents, len(grpcRetryEvents))
	if len(httpEv) == 0 && len(tcpEv) == 0 && len(grpcEv) == 0 {
		kinds := "httpRetryEvents or tcpRetryEvents"
		if grpc {
			kinds = "grpcRetryEvents, httpRetryEvents or tcpRetryEvents"
		}
		rc.errorf(p, "set at least one of %s: without events nothing is retried", kinds)
	}
}

// events checks a list of retry events.
func (rc *routeCheck) events(p *field.Path, got, allowed []string, max int) {
	if got == nil {
		return
	}
	rc.entries(p, len(got), 1, max)
	seen := map[string]bool{}
	for i, e := range got {
		if rc.enum(p.Index(i), e, allowed) && seen[e] {
			rc.errorf(p.Index(i), "duplicate event %q", e)
		}
		seen[e] = true
	}
}
