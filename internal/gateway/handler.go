package gateway

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/openai"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// listenerInfo describes the listener a request came in on.
type listenerInfo struct {
	name    string
	idx     int
	port    int // gateway listener port (0 for the mesh listener)
	metrics *telemetry.ListenerMetrics
	// resume serves a client connection a stream gave back (nil: streams
	// stay in net/http, as on TLS listeners).
	resume func(c net.Conn, ahead []byte) bool
}

// gatewayHandler serves one VirtualGateway port.
type gatewayHandler struct {
	g  *Gateway
	li listenerInfo
}

func (h *gatewayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.g
	snap := g.holder.Load()
	h.li.metrics.InFlightInc() // finish (or the stream's end) decrements it
	st := getState(w, r, g.MaxBodyBytes)
	defer putState(st)
	st.plan.Resume, st.plan.Draining = h.li.resume, g.draining.Load()
	var gl *snapshot.GatewayListener
	for _, l := range snap.Gateways {
		if l.Port == h.li.port {
			gl = l
			break
		}
	}
	if gl == nil {
		g.reject(w, st, http.StatusNotFound, "invalid_request_error", "route_not_found", "no VirtualGateway listener on port "+strconv.Itoa(h.li.port))
		h.li.metrics.InFlightDec()
		return
	}
	defer g.finish(w, st, &h.li, gl.AccessLog)
	st.fillRequest(r, gl.Port)
	e, ok, err := gl.Routes.Match(&st.req)
	if err != nil {
		g.bodyError(w, st, err)
		return
	}
	if !ok {
		g.reject(w, st, http.StatusNotFound, "invalid_request_error", "route_not_found",
			"no GatewayRoute of VirtualGateway "+gl.Gateway+" matches "+r.Method+" "+r.URL.Path)
		return
	}
	gr := e.Value
	st.plan.Path, st.plan.RawQuery, st.plan.Host = rewritePath(gr, r.URL.EscapedPath()), r.URL.RawQuery, r.Host
	if gr.RewriteHost {
		st.plan.Host = gr.Service.Name
	}
	st.plan.ClientTLS = gl.ClientTLS
	g.toService(w, r, st, &h.li, gr.Service, gr.Port)
}

// rewritePath applies a GatewayRoute's path and prefix rewrites to the
// escaped path, so that escapes such as %2F survive.
func rewritePath(gr *snapshot.GatewayRoute, path string) string {
	if gr.PathRewrite != "" {
		return gr.PathRewrite
	}
	if gr.Prefix == "" || !strings.HasPrefix(path, gr.Prefix) {
		return path
	}
	switch gr.PrefixRewrite {
	case snapshot.PrefixKeep:
		return path
	case snapshot.PrefixValue:
		return gr.PrefixValue + path[len(gr.Prefix):]
	}
	rest := path[len(gr.Prefix):]
	if strings.HasSuffix(gr.Prefix, "/") || rest == "" || rest[0] == '/' {
		return "/" + strings.TrimPrefix(rest, "/")
	}
	return "/" + rest
}

// meshHandler serves the mesh listener: Host names a VirtualService.
type meshHandler struct {
	g  *Gateway
	li listenerInfo
}

func (h *meshHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.g
	snap := g.holder.Load()
	h.li.metrics.InFlightInc() // finish (or the stream's end) decrements it
	st := getState(w, r, g.MaxBodyBytes)
	defer putState(st)
	st.plan.Resume, st.plan.Draining = h.li.resume, g.draining.Load()
	var al *telemetry.AccessLogger
	if snap.Sidecar != nil {
		al = snap.Sidecar.AccessLog
	}
	defer g.finish(w, st, &h.li, al)
	host, port := splitHostPort(r.Host)
	if r.Method == http.MethodConnect {
		g.connect(w, r, st, snap, host, port)
		return
	}
	svc := snap.Service(host)
	if svc == nil {
		g.egress(w, r, st, snap, host, port)
		return
	}
	if snap.Sidecar != nil && !snap.Sidecar.Backends[strings.ToLower(svc.Name)] {
		g.reject(w, st, http.StatusForbidden, "permission_error", "backend_not_allowed",
			"VirtualService "+svc.Name+" is not a backend of VirtualNode "+snap.Sidecar.Name)
		return
	}
	st.plan.Path, st.plan.RawQuery, st.plan.Host = r.URL.EscapedPath(), r.URL.RawQuery, r.Host
	if snap.Sidecar != nil {
		st.plan.ClientTLS = snap.Sidecar.ClientTLS[strings.ToLower(svc.Name)]
	}
	g.toService(w, r, st, &h.li, svc, port)
}

// egress forwards a call to a host outside the mesh, if the mesh allows.
func (g *Gateway) egress(w http.ResponseWriter, r *http.Request, st *reqState, snap *snapshot.Snapshot, host string, port int) {
	if !snap.AllowEgress {
		g.reject(w, st, http.StatusForbidden, "permission_error", "egress_denied",
			"host "+host+" is not a VirtualService of mesh "+snap.Mesh+" and its egressFilter is DROP_ALL")
		return
	}
	if host == "" {
		g.reject(w, st, http.StatusBadRequest, "invalid_request_error", "missing_host", "the request names no host")
		return
	}
	if port == 0 {
		port = 80
	}
	st.service, st.routeName = host, "egress"
	st.plan.Egress = net.JoinHostPort(host, strconv.Itoa(port))
	st.plan.Path, st.plan.RawQuery, st.plan.Host = r.URL.EscapedPath(), r.URL.RawQuery, r.Host
	g.fwd.Forward(w, r, &st.plan, &st.res)
}

// toService routes a request for svc: through its router, or to its node.
func (g *Gateway) toService(w http.ResponseWriter, r *http.Request, st *reqState, li *listenerInfo, svc *snapshot.Service, port int) {
	st.service = svc.Name
	switch {
	case svc.Router != nil:
		rl, ok := svc.Router.Listener(port)
		if !ok {
			g.reject(w, st, http.StatusNotFound, "invalid_request_error", "route_not_found",
				"VirtualRouter "+svc.Router.Name+" has no listener on port "+strconv.Itoa(port))
			return
		}
		st.fillRequest(r, rl.Port)
		e, ok, err := svc.Router.Table(rl.Protocol).Match(&st.req)
		if err != nil {
			g.bodyError(w, st, err)
			return
		}
		if !ok {
			g.noRoute(w, st, svc, r)
			return
		}
		rt := e.Value
		st.routeName = rt.Name
		st.plan.Route = rt
		st.plan.Target = rt.Pick()
		// A body not read for the model is streamed: the forwarder keeps
		// a copy (up to MaxBodyBytes) for retries and fallbacks, so gRPC
		// and other streaming requests are not held until they end.
	case svc.Node != nil:
		st.plan.Target = svc.Node
	default:
		g.reject(w, st, http.StatusServiceUnavailable, "upstream_error", "no_healthy_upstream",
			"VirtualService "+svc.Name+" has no provider")
		return
	}
	if err := g.preparePick(st, r); err != nil {
		g.bodyError(w, st, err)
		return
	}
	st.plan.Body = st.bodyForPlan()
	g.fwd.Forward(w, r, &st.plan, &st.res)
	if st.res.Retries > 0 || st.res.Fallback {
		if st.plan.Target != nil {
			m := st.plan.Target.Metrics(g.metrics, li.idx, li.name, st.service, st.routeName)
			for i := 0; i < st.res.Retries; i++ {
				m.Retry()
			}
			if st.res.Fallback {
				m.Fallback()
			}
		}
	}
}

// noRoute answers a request no route matched: 404, naming the model when
// the body was read for it.
func (g *Gateway) noRoute(w http.ResponseWriter, st *reqState, svc *snapshot.Service, r *http.Request) {
	if st.inspected && st.modelErr == nil {
		if st.model == "" {
			g.reject(w, st, http.StatusNotFound, "invalid_request_error", "model_not_found",
				"no route of VirtualService "+svc.Name+" matches "+r.Method+" "+r.URL.Path+" without a model")
			return
		}
		g.reject(w, st, http.StatusNotFound, "invalid_request_error", "model_not_found",
			"the model "+strconv.Quote(st.model)+" does not exist or no route of VirtualService "+svc.Name+" serves it")
		return
	}
	g.reject(w, st, http.StatusNotFound, "invalid_request_error", "route_not_found",
		"no route of VirtualService "+svc.Name+" matches "+r.Method+" "+r.URL.Path)
}

// bodyError maps a body or model error to 400 or 413.
func (g *Gateway) bodyError(w http.ResponseWriter, st *reqState, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		g.reject(w, st, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
			"request body is larger than "+strconv.FormatInt(g.MaxBodyBytes, 10)+" bytes")
	case errors.Is(err, openai.ErrModelNotString):
		g.reject(w, st, http.StatusBadRequest, openai.TypeInvalidRequest, openai.CodeInvalidModel, err.Error())
	case errors.Is(err, openai.ErrBadJSON):
		g.reject(w, st, http.StatusBadRequest, openai.TypeInvalidRequest, openai.CodeBadJSON, err.Error())
	default:
		g.reject(w, st, http.StatusBadRequest, "invalid_request_error", "bad_request", "could not read the request body: "+err.Error())
	}
}

// reject writes an OpenAI-shaped error for a request aimesh refused, or
// a gRPC status when the request is a gRPC call.
func (g *Gateway) reject(w http.ResponseWriter, st *reqState, status int, typ, code, msg string) {
	st.res.Code = status
	st.res.Failure = code
	openai.WriteErrorFor(w, st.r, status, typ, code, msg)
}

// fillRequest sets the fields route matching reads.
func (st *reqState) fillRequest(r *http.Request, port int) {
	q := &st.req
	q.Method, q.Path, q.RawQuery = r.Method, st.plan.Path, r.URL.RawQuery
	if q.Path == "" {
		q.Path = r.URL.EscapedPath()
	}
	q.Host = snapshot.HostOnly(r.Host)
	q.Scheme = "http"
	if r.TLS != nil {
		q.Scheme = "https"
	}
	q.Port = port
	q.Header = r.Header
	q.Model = st
}

// splitHostPort splits a Host header; port is 0 when absent.
func splitHostPort(hostport string) (string, int) {
	if strings.IndexByte(hostport, ':') < 0 {
		// No port, the usual mesh Host: net.SplitHostPort would only
		// allocate its "missing port" error to say so.
		return strings.ToLower(hostport), 0
	}
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.ToLower(hostport), 0
	}
	p, _ := strconv.Atoi(ps)
	return strings.ToLower(host), p
}

// listenerProtocols returns the server protocols for a listener protocol:
// HTTP/1.1 always, and HTTP/2 (by ALPN over TLS, by prior knowledge in
// cleartext) for http2 and grpc listeners.
func listenerProtocols(p v1.PortProtocol) *http.Protocols {
	ps := new(http.Protocols)
	ps.SetHTTP1(true)
	if p != v1.ProtocolHTTP {
		ps.SetHTTP2(true) // over TLS, by ALPN
		ps.SetUnencryptedHTTP2(true)
	}
	return ps
}
