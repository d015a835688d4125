package snapshot

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/route"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// Options are the long-lived registries and settings Compile uses.
type Options struct {
	// Mesh to serve; empty means the only Mesh.
	Mesh string
	// Node is the VirtualNode the mesh listener acts for (--node).
	Node string
	// Generation numbers the snapshot.
	Generation int64
	Endpoints  *discovery.Registry
	Metrics    *telemetry.Metrics
	LogFiles   *telemetry.LogFiles
}

// Defaults for route timeouts; see the package doc.
const (
	DefaultPerRequest = 600 * time.Second
	DefaultIdle       = 300 * time.Second
)

type compiler struct {
	opts  Options
	res   *config.Resources
	snap  *Snapshot
	nodes map[string]*v1.VirtualNode // by ns/name
	cnode map[string]*Node
	rtrs  map[string]*v1.VirtualRouter
}

func key(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// Compile builds a snapshot from validated, defaulted resources. The
// endpoint registry must be bracketed by Begin/End by the caller when it
// wants unused endpoint sets released.
func Compile(res *config.Resources, opts Options) (*Snapshot, error) {
	c := &compiler{
		opts:  opts,
		res:   res,
		nodes: map[string]*v1.VirtualNode{},
		cnode: map[string]*Node{},
		rtrs:  map[string]*v1.VirtualRouter{},
		snap: &Snapshot{
			Generation: opts.Generation,
			Compiled:   time.Now(),
			Resources:  res,
			Services:   map[string]*Service{},
		},
	}
	mesh, err := c.pickMesh()
	if err != nil {
		return nil, err
	}
	c.snap.Mesh = mesh.Name
	c.snap.AllowEgress = mesh.Spec.EgressFilter != nil && mesh.Spec.EgressFilter.Type == v1.EgressAllowAll
	for _, n := range res.VirtualNodes {
		if c.inMesh(n.Spec.MeshRef) {
			c.nodes[key(n.Namespace, n.Name)] = n
		}
	}
	for _, r := range res.VirtualRouters {
		if c.inMesh(r.Spec.MeshRef) {
			c.rtrs[key(r.Namespace, r.Name)] = r
		}
	}
	// Services are keyed by hostname. Validation refuses two with one
	// name in a mesh; should two reach here anyway, refuse them too rather
	// than let the later one take the hostname silently.
	hostOwner := map[string]*v1.VirtualService{}
	for _, vs := range res.VirtualServices {
		if !c.inMesh(vs.Spec.MeshRef) {
			continue
		}
		host := strings.ToLower(vs.Name)
		if prev, taken := hostOwner[host]; taken {
			return nil, fmt.Errorf("VirtualServices %s and %s have the same hostname %q: VirtualService names are unique within a mesh",
				key(prev.Namespace, prev.Name), key(vs.Namespace, vs.Name), host)
		}
		hostOwner[host] = vs
		svc, err := c.service(vs)
		if err != nil {
			return nil, fmt.Errorf("VirtualService %s: %w", vs.Name, err)
		}
		c.snap.Services[host] = svc
	}
	if err := c.gateways(); err != nil {
		return nil, err
	}
	if err := c.tcpListeners(); err != nil {
		return nil, err
	}
	if opts.Node != "" {
		vn := c.findNode(opts.Node)
		if vn == nil {
			return nil, fmt.Errorf("--node %s: VirtualNode not found in mesh %s", opts.Node, mesh.Name)
		}
		c.snap.Sidecar, err = c.node(vn)
		if err != nil {
			return nil, err
		}
	}
	return c.snap, nil
}

func (c *compiler) pickMesh() (*v1.Mesh, error) {
	for _, m := range c.res.Meshes {
		if c.opts.Mesh == "" || m.Name == c.opts.Mesh {
			if c.opts.Mesh == "" && len(c.res.Meshes) > 1 {
				return nil, fmt.Errorf("%d Meshes configured: name the one to serve (--mesh)", len(c.res.Meshes))
			}
			return m, nil
		}
	}
	if c.opts.Mesh == "" {
		return nil, fmt.Errorf("no Mesh configured")
	}
	return nil, fmt.Errorf("mesh %q not found", c.opts.Mesh)
}

func (c *compiler) inMesh(ref *v1.MeshReference) bool {
	return ref != nil && ref.Name == c.snap.Mesh
}

// findNode finds a node by name or namespace/name.
func (c *compiler) findNode(name string) *v1.VirtualNode {
	if n, ok := c.nodes[name]; ok {
		return n
	}
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (c *compiler) node(vn *v1.VirtualNode) (*Node, error) {
	k := key(vn.Namespace, vn.Name)
	if n, ok := c.cnode[k]; ok {
		return n, nil
	}
	n := &Node{Name: k, Backends: map[string]bool{}, ClientTLS: map[string]*v1.ClientPolicyTLS{}}
	var def *v1.ClientPolicyTLS
	if bd := vn.Spec.BackendDefaults; bd != nil && bd.ClientPolicy != nil {
		def = bd.ClientPolicy.TLS
	}
	for _, b := range vn.Spec.Backends {
		name := strings.ToLower(b.VirtualService.VirtualServiceName)
		n.Backends[name] = true
		n.ClientTLS[name] = def
		if cp := b.VirtualService.ClientPolicy; cp != nil && cp.TLS != nil {
			n.ClientTLS[name] = cp.TLS
		}
	}
	if lg := vn.Spec.Logging; lg != nil && lg.AccessLog != nil && lg.AccessLog.File != nil && c.opts.LogFiles != nil {
		al, err := c.accessLogger(lg.AccessLog.File)
		if err != nil {
			return nil, fmt.Errorf("VirtualNode %s: spec.logging.accessLog: %w", vn.Name, err)
		}
		n.AccessLog = al
	}
	c.cnode[k] = n
	return n, nil
}

// target compiles a (node, port) pair. port 0 means the node's only
// listener.
func (c *compiler) target(ns, name string, port *v1.PortNumber) (*Target, error) {
	vn := c.nodes[key(ns, name)]
	if vn == nil {
		return nil, fmt.Errorf("VirtualNode %q not found", name)
	}
	if len(vn.Spec.Listeners) == 0 {
		return nil, fmt.Errorf("VirtualNode %q has no listener", name)
	}
	l := &vn.Spec.Listeners[0]
	if port != nil {
		l = nil
		for i := range vn.Spec.Listeners {
			if vn.Spec.Listeners[i].PortMapping.Port == *port {
				l = &vn.Spec.Listeners[i]
			}
		}
		if l == nil {
			return nil, fmt.Errorf("VirtualNode %q has no listener on port %d", name, *port)
		}
	}
	n, err := c.node(vn)
	if err != nil {
		return nil, err
	}
	t := &Target{Node: n, Port: int(l.PortMapping.Port), Protocol: l.PortMapping.Protocol, Spec: &vn.Spec, Listener: l}
	t.PerRequestCap, t.IdleCap = listenerTimeouts(l)
	if cp := l.ConnectionPool; cp != nil {
		switch {
		case cp.HTTP != nil:
			t.MaxConns = int(cp.HTTP.MaxConnections)
		case cp.TCP != nil:
			t.MaxConns = int(cp.TCP.MaxConnections)
		}
	}
	spec, err := discoverySpec(vn, t.Port)
	if err != nil {
		return nil, fmt.Errorf("VirtualNode %q: %w", name, err)
	}
	if c.opts.Endpoints != nil {
		t.Endpoints = c.opts.Endpoints.Ensure(discovery.Key{Node: n.Name, Port: t.Port}, spec)
	}
	return t, nil
}

// discoverySpec turns a node's serviceDiscovery into an endpoint source.
func discoverySpec(vn *v1.VirtualNode, port int) (discovery.Spec, error) {
	sd := vn.Spec.ServiceDiscovery
	switch {
	case sd == nil:
		return discovery.Spec{}, fmt.Errorf("no serviceDiscovery")
	case sd.Static != nil:
		var s discovery.Spec
		for _, e := range sd.Static.Endpoints {
			p := port
			if e.Port != nil {
				p = int(*e.Port)
			}
			s.Static = append(s.Static, net.JoinHostPort(e.Address, strconv.Itoa(p)))
		}
		return s, nil
	case sd.DNS != nil:
		s := discovery.Spec{DNSName: sd.DNS.Hostname, Port: port}
		s.LoadBalancer = sd.DNS.ResponseType != nil && *sd.DNS.ResponseType == "LOADBALANCER"
		s.IPv6 = sd.DNS.IPPreference != nil && strings.HasPrefix(*sd.DNS.IPPreference, "IPv6")
		return s, nil
	case sd.Kubernetes != nil:
		return discovery.Spec{}, nil // fed from EndpointSlices
	}
	return discovery.Spec{}, fmt.Errorf("unsupported serviceDiscovery")
}

func (c *compiler) service(vs *v1.VirtualService) (*Service, error) {
	svc := &Service{Name: vs.Name}
	p := vs.Spec.Provider
	switch {
	case p == nil:
		return svc, nil
	case p.VirtualNode != nil:
		t, err := c.target(vs.Namespace, p.VirtualNode.VirtualNodeName, nil)
		if err != nil {
			return nil, err
		}
		svc.Node = t
	case p.VirtualRouter != nil:
		vr := c.rtrs[key(vs.Namespace, p.VirtualRouter.VirtualRouterName)]
		if vr == nil {
			return nil, fmt.Errorf("VirtualRouter %q not found", p.VirtualRouter.VirtualRouterName)
		}
		r, err := c.router(vs, vr)
		if err != nil {
			return nil, fmt.Errorf("VirtualRouter %s: %w", vr.Name, err)
		}
		svc.Router = r
	}
	return svc, nil
}

// router compiles a router for one service (routes are compiled per
// service so that their metric handles carry the service's name).
func (c *compiler) router(vs *v1.VirtualService, vr *v1.VirtualRouter) (*Router, error) {
	r := &Router{Name: vr.Name}
	for _, l := range vr.Spec.Listeners {
		r.Listeners = append(r.Listeners, RouterListener{Port: int(l.PortMapping.Port), Protocol: l.PortMapping.Protocol})
	}
	var httpE, h2E, grpcE []route.Entry[*Route]
	for i := range vr.Spec.Routes {
		rs := &vr.Spec.Routes[i]
		cr, m, err := c.route(vs, vr, rs)
		if err != nil {
			return nil, fmt.Errorf("spec.routes[%d] (%s): %w", i, rs.Name, err)
		}
		e := route.Entry[*Route]{Name: rs.Name, Matcher: m, Value: cr}
		if rs.Priority != nil {
			e.Priority, e.HasPriority = *rs.Priority, true
		}
		switch cr.Kind {
		case v1.ProtocolHTTP:
			httpE = append(httpE, e)
		case v1.ProtocolHTTP2:
			h2E = append(h2E, e)
		case v1.ProtocolGRPC:
			grpcE = append(grpcE, e)
		case v1.ProtocolTCP:
			r.TCP = append(r.TCP, cr)
		}
	}
	r.HTTP = route.NewTable(httpE)
	r.HTTP2 = route.NewTable(h2E)
	r.GRPC = route.NewTable(grpcE)
	sort.SliceStable(r.TCP, func(i, j int) bool { return tcpPriority(vr, r.TCP[i]) < tcpPriority(vr, r.TCP[j]) })
	return r, nil
}

func tcpPriority(vr *v1.VirtualRouter, r *Route) int64 {
	for _, rs := range vr.Spec.Routes {
		if rs.Name == r.Name && rs.Priority != nil {
			return *rs.Priority
		}
	}
	return 1001
}

// accessLogger opens an access log for the snapshot; the snapshot closes
// it when it is retired (CloseLoggers).
func (c *compiler) accessLogger(spec *v1.FileAccessLog) (*telemetry.AccessLogger, error) {
	al, err := telemetry.NewAccessLogger(spec, c.opts.LogFiles)
	if err != nil {
		return nil, err
	}
	c.snap.loggers = append(c.snap.loggers, al)
	return al, nil
}
