package snapshot

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/route"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// gateways compiles every VirtualGateway listener of the mesh.
func (c *compiler) gateways() error {
	for _, vg := range c.res.VirtualGateways {
		if !c.inMesh(vg.Spec.MeshRef) {
			continue
		}
		var al *telemetry.AccessLogger
		if lg := vg.Spec.Logging; lg != nil && lg.AccessLog != nil && lg.AccessLog.File != nil && c.opts.LogFiles != nil {
			var err error
			if al, err = c.accessLogger(lg.AccessLog.File); err != nil {
				return fmt.Errorf("VirtualGateway %s: spec.logging.accessLog: %w", vg.Name, err)
			}
		}
		for _, l := range vg.Spec.Listeners {
			gl := &GatewayListener{
				Gateway:   vg.Name,
				Port:      int(l.PortMapping.Port),
				Protocol:  l.PortMapping.Protocol,
				AccessLog: al,
				Name:      vg.Name + ":" + strconv.Itoa(int(l.PortMapping.Port)),
				TLS:       l.TLS,
			}
			if bd := vg.Spec.BackendDefaults; bd != nil && bd.ClientPolicy != nil {
				gl.ClientTLS = bd.ClientPolicy.TLS
			}
			entries, err := c.gatewayRoutes(vg, gl)
			if err != nil {
				return err
			}
			gl.Routes = route.NewTable(entries)
			c.snap.Gateways = append(c.snap.Gateways, gl)
		}
	}
	sort.Slice(c.snap.Gateways, func(i, j int) bool { return c.snap.Gateways[i].Port < c.snap.Gateways[j].Port })
	return nil
}

// gatewayRoutes compiles the GatewayRoutes attached to one listener.
func (c *compiler) gatewayRoutes(vg *v1.VirtualGateway, gl *GatewayListener) ([]route.Entry[*GatewayRoute], error) {
	var out []route.Entry[*GatewayRoute]
	for _, gr := range c.res.GatewayRoutes {
		ref := gr.Spec.VirtualGatewayRef
		if !c.inMesh(gr.Spec.MeshRef) || ref == nil || ref.Name != vg.Name {
			continue
		}
		ns := gr.Namespace
		if ref.Namespace != nil {
			ns = *ref.Namespace
		}
		if ns != vg.Namespace {
			continue
		}
		e, ok, err := c.gatewayRoute(gr, gl)
		if err != nil {
			return nil, fmt.Errorf("GatewayRoute %s: %w", gr.Name, err)
		}
		if ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *compiler) gatewayRoute(gr *v1.GatewayRoute, gl *GatewayListener) (route.Entry[*GatewayRoute], bool, error) {
	var (
		e      route.Entry[*GatewayRoute]
		target *v1.GatewayRouteTarget
		port   *v1.PortNumber
		cgr    = &GatewayRoute{Name: gr.Name, RewriteHost: true}
		err    error
	)
	switch {
	case gr.Spec.HTTPRoute != nil && gl.Protocol == v1.ProtocolHTTP,
		gr.Spec.HTTP2Route != nil && gl.Protocol == v1.ProtocolHTTP2:
		hr := gr.Spec.HTTPRoute
		if hr == nil {
			hr = gr.Spec.HTTP2Route
		}
		port = hr.Match.Port
		if e.Matcher, err = route.CompileHTTPGatewayRouteMatch(&hr.Match); err != nil {
			return e, false, err
		}
		target = &hr.Action.Target
		if hr.Match.Prefix != nil {
			cgr.Prefix = *hr.Match.Prefix
		}
		if rw := hr.Action.Rewrite; rw != nil {
			cgr.RewriteHost = hostRewrite(rw.Hostname)
			if p := rw.Prefix; p != nil {
				switch {
				case p.Value != nil:
					cgr.PrefixRewrite, cgr.PrefixValue = PrefixValue, *p.Value
				case p.DefaultPrefix != nil && *p.DefaultPrefix == "DISABLED":
					cgr.PrefixRewrite = PrefixKeep
				}
			}
			if rw.Path != nil {
				cgr.PathRewrite = rw.Path.Exact
			}
		}
	case gr.Spec.GRPCRoute != nil && gl.Protocol == v1.ProtocolGRPC:
		g := gr.Spec.GRPCRoute
		port = g.Match.Port
		if e.Matcher, err = route.CompileGRPCGatewayRouteMatch(&g.Match); err != nil {
			return e, false, err
		}
		target = &g.Action.Target
		cgr.PrefixRewrite = PrefixKeep
		if g.Action.Rewrite != nil {
			cgr.RewriteHost = hostRewrite(g.Action.Rewrite.Hostname)
		}
	default:
		return e, false, nil // another protocol's route
	}
	if port != nil && int(*port) != gl.Port {
		return e, false, nil
	}
	svc := c.snap.Service(target.VirtualService.VirtualServiceName)
	if svc == nil {
		return e, false, fmt.Errorf("VirtualService %q not found", target.VirtualService.VirtualServiceName)
	}
	cgr.Service = svc
	if target.Port != nil {
		cgr.Port = int(*target.Port)
	}
	e.Name, e.Value = gr.Name, cgr
	if gr.Spec.Priority != nil {
		e.Priority, e.HasPriority = *gr.Spec.Priority, true
	}
	return e, true, nil
}

func hostRewrite(h *v1.GatewayRouteHostnameRewrite) bool {
	return h == nil || h.DefaultTargetHostname == nil || *h.DefaultTargetHostname != "DISABLED"
}

// tcpListeners collects the router ports that carry tcpRoutes.
func (c *compiler) tcpListeners() error {
	byPort := map[int]*TCPListener{}
	for _, svc := range c.snap.Services {
		if svc.Router == nil {
			continue
		}
		for _, l := range svc.Router.Listeners {
			if l.Protocol != v1.ProtocolTCP {
				continue
			}
			if prev, ok := byPort[l.Port]; ok {
				return fmt.Errorf("VirtualServices %s and %s both take TCP port %d", prev.Service, svc.Name, l.Port)
			}
			tl := &TCPListener{Port: l.Port, Service: svc.Name}
			for _, r := range svc.Router.TCP {
				if r.Port == 0 || r.Port == l.Port {
					tl.Routes = append(tl.Routes, r)
				}
			}
			byPort[l.Port] = tl
		}
	}
	for _, tl := range byPort {
		c.snap.TCP = append(c.snap.TCP, tl)
	}
	sort.Slice(c.snap.TCP, func(i, j int) bool { return c.snap.TCP[i].Port < c.snap.TCP[j].Port })
	return nil
}

// Metrics returns the target's metric handle for a listener, created on
// first use. idx is the listener's index (small and stable for a process).
func (t *Target) Metrics(m *telemetry.Metrics, idx int, listener, service, routeName string) *telemetry.RouteMetrics {
	if idx >= maxListeners || idx < 0 {
		idx = maxListeners - 1
	}
	if h := t.metrics[idx].Load(); h != nil {
		return h
	}
	h := m.Route(listener, service, routeName, t.Node.Name)
	t.metrics[idx].Store(h)
	return h
}

// HostOnly strips a port from a Host header value and lower-cases it.
func HostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return strings.ToLower(host)
}
