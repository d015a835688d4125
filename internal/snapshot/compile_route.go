package snapshot

import (
	"fmt"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/route"
)

// route compiles one route of vr for the service vs.
func (c *compiler) route(vs *v1.VirtualService, vr *v1.VirtualRouter, rs *v1.Route) (*Route, *route.Matcher, error) {
	r := &Route{Name: rs.Name, Router: vr.Name, PerRequest: DefaultPerRequest, Idle: DefaultIdle}
	var (
		m       *route.Matcher
		err     error
		action  *v1.RouteAction
		timeout *v1.HTTPTimeout
	)
	switch {
	case rs.HTTPRoute != nil, rs.HTTP2Route != nil:
		hr := rs.HTTPRoute
		r.Kind = v1.ProtocolHTTP
		if hr == nil {
			hr, r.Kind = rs.HTTP2Route, v1.ProtocolHTTP2
		}
		m, err = route.CompileHTTPRouteMatch(&hr.Match)
		action, timeout = &hr.Action, hr.Timeout
		r.Retry = httpRetry(hr.RetryPolicy)
		if hr.Criticality != nil {
			r.Criticality = *hr.Criticality
		}
	case rs.GRPCRoute != nil:
		gr := rs.GRPCRoute
		r.Kind = v1.ProtocolGRPC
		m, err = route.CompileGRPCRouteMatch(&gr.Match)
		action, timeout = &gr.Action, gr.Timeout
		r.Retry = grpcRetry(gr.RetryPolicy)
	case rs.TCPRoute != nil:
		tr := rs.TCPRoute
		r.Kind = v1.ProtocolTCP
		if tr.Match != nil && tr.Match.Port != nil {
			r.Port = int(*tr.Match.Port)
		}
		action = &v1.RouteAction{WeightedTargets: tr.Action.WeightedTargets}
		r.PerRequest = 0
		if tr.Timeout != nil && tr.Timeout.Idle != nil {
			r.Idle = duration(*tr.Timeout.Idle)
		}
	default:
		return nil, nil, fmt.Errorf("no httpRoute, http2Route, grpcRoute or tcpRoute")
	}
	if err != nil {
		return nil, nil, err
	}
	if timeout != nil {
		if timeout.PerRequest != nil {
			r.PerRequest = duration(*timeout.PerRequest)
		}
		if timeout.Idle != nil {
			r.Idle = duration(*timeout.Idle)
		}
	}
	for i, wt := range action.WeightedTargets {
		t, err := c.target(vr.Namespace, wt.VirtualNode, wt.Port)
		if err != nil {
			return nil, nil, fmt.Errorf("weightedTargets[%d]: %w", i, err)
		}
		if wt.Weight == 0 {
			continue
		}
		r.total += wt.Weight
		r.Targets = append(r.Targets, t)
		r.cum = append(r.cum, r.total)
	}
	if len(r.Targets) == 0 {
		return nil, nil, fmt.Errorf("weightedTargets: every weight is 0")
	}
	for i, ft := range action.Fallback {
		t, err := c.target(vr.Namespace, ft.VirtualNode, ft.Port)
		if err != nil {
			return nil, nil, fmt.Errorf("fallback[%d]: %w", i, err)
		}
		r.Fallback = append(r.Fallback, t)
	}
	r.Service = vs.Name
	return r, m, nil
}

func duration(d v1.Duration) time.Duration {
	if d.Unit == v1.DurationUnitMS {
		return time.Duration(d.Value) * time.Millisecond
	}
	return time.Duration(d.Value) * time.Second
}

// implicitRetry is App Mesh's default when a route has no retryPolicy.
func implicitRetry() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, Status503: true, ConnectionError: true, StreamError: true, GRPC: 1 << grpcUnavailable}
}

func httpRetry(p *v1.HTTPRetryPolicy) RetryPolicy {
	if p == nil {
		return implicitRetry()
	}
	r := RetryPolicy{MaxRetries: int(p.MaxRetries), PerTry: duration(p.PerRetryTimeout)}
	httpEvents(&r, p.HTTPRetryEvents, p.TCPRetryEvents)
	return r
}

func grpcRetry(p *v1.GRPCRetryPolicy) RetryPolicy {
	if p == nil {
		return implicitRetry()
	}
	r := RetryPolicy{MaxRetries: int(p.MaxRetries), PerTry: duration(p.PerRetryTimeout)}
	httpEvents(&r, p.HTTPRetryEvents, p.TCPRetryEvents)
	for _, e := range p.GRPCRetryEvents {
		if code, ok := grpcEvents[e]; ok {
			r.GRPC |= 1 << code
		}
	}
	return r
}

func httpEvents(r *RetryPolicy, httpEv, tcpEv []string) {
	for _, e := range httpEv {
		switch e {
		case "server-error":
			r.ServerError = true
		case "gateway-error":
			r.GatewayError = true
		case "client-error":
			r.ClientError = true
		case "stream-error":
			r.StreamError = true
		}
	}
	for _, e := range tcpEv {
		if e == "connection-error" {
			r.ConnectionError = true
		}
	}
}

const grpcUnavailable = 14

// grpcEvents maps App Mesh's gRPC retry events to status codes.
var grpcEvents = map[string]uint{
	"cancelled":          1,
	"deadline-exceeded":  4,
	"resource-exhausted": 8,
	"internal":           13,
	"unavailable":        grpcUnavailable,
}

// listenerTimeouts returns a node listener's perRequest and idle caps.
func listenerTimeouts(l *v1.Listener) (perRequest, idle time.Duration) {
	if l.Timeout == nil {
		return 0, 0
	}
	var t *v1.HTTPTimeout
	switch l.PortMapping.Protocol {
	case v1.ProtocolHTTP:
		t = l.Timeout.HTTP
	case v1.ProtocolHTTP2:
		t = l.Timeout.HTTP2
	case v1.ProtocolGRPC:
		t = l.Timeout.GRPC
	case v1.ProtocolTCP:
		if l.Timeout.TCP != nil && l.Timeout.TCP.Idle != nil {
			return 0, duration(*l.Timeout.TCP.Idle)
		}
	}
	if t == nil {
		return 0, 0
	}
	if t.PerRequest != nil {
		perRequest = duration(*t.PerRequest)
	}
	if t.Idle != nil {
		idle = duration(*t.Idle)
	}
	return perRequest, idle
}

// Cap returns the smaller positive of a route timeout and a listener cap
// (0 means unbounded for both).
func Cap(routeT, listenerT time.Duration) time.Duration {
	switch {
	case listenerT <= 0:
		return routeT
	case routeT <= 0:
		return listenerT
	case listenerT < routeT:
		return listenerT
	}
	return routeT
}
