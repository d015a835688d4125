package config

import (
	"fmt"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Health check limits (App Mesh's).
const (
	minThreshold      = 2
	maxThreshold      = 10
	minIntervalMillis = 5000
	maxIntervalMillis = 300000
	minTimeoutMillis  = 2000
	maxTimeoutMillis  = 60000
)

// virtualNode checks a node's listeners, discovery, backends and logging.
func (v *validator) virtualNode(n *v1.VirtualNode) {
	o := v.report(v1.KindVirtualNode, n.ObjectMeta)
	o.meshRef(n.Spec.MeshRef)
	spec := field.NewPath("spec")
	seen := map[v1.PortNumber]int{}
	for i, l := range n.Spec.Listeners {
		p := spec.Child("listeners").Index(i)
		pm := l.PortMapping
		o.listenerPort(p.Child("portMapping", "port"), pm.Port, i, seen)
		protoOK := o.enum(p.Child("portMapping", "protocol"), string(pm.Protocol), protocols)
		o.healthCheck(p.Child("healthCheck"), l.HealthCheck, protocols)
		o.outlierDetection(p.Child("outlierDetection"), l.OutlierDetection)
		if protoOK {
			o.nodeConnectionPool(p.Child("connectionPool"), l.ConnectionPool, string(pm.Protocol))
			o.nodeTimeout(p.Child("timeout"), l.Timeout, string(pm.Protocol))
		}
		o.listenerTLS(p.Child("tls"), l.TLS)
	}
	o.serviceDiscovery(spec.Child("serviceDiscovery"), n.Spec.ServiceDiscovery, len(n.Spec.Listeners) > 0)
	backends := map[string]int{}
	for i, b := range n.Spec.Backends {
		p := spec.Child("backends").Index(i).Child("virtualService")
		name := b.VirtualService.VirtualServiceName
		np := p.Child("virtualServiceName")
		if j, dup := backends[name]; dup && name != "" {
			o.errorf(np, "duplicate backend %q: already listed at spec.backends[%d]", name, j)
		} else {
			backends[name] = i
			o.serviceRef(np, name)
		}
		o.clientPolicy(p.Child("clientPolicy"), b.VirtualService.ClientPolicy)
	}
	o.backendDefaults(spec.Child("backendDefaults"), n.Spec.BackendDefaults)
	o.logging(spec.Child("logging"), n.Spec.Logging)
	o.picking(spec, &n.Spec)
}

// listenerPort checks a listener's port and that no earlier listener of the
// same resource (recorded in seen) uses it.
// It returns whether the port is valid (a duplicate still is).
func (o *rep) listenerPort(p *field.Path, port v1.PortNumber, i int, seen map[v1.PortNumber]int) bool {
	if !o.port(p, port) {
		return false
	}
	if j, dup := seen[port]; dup {
		o.errorf(p, "port %d is already used by listeners[%d]: listener ports must be unique", port, j)
		return true
	}
	seen[port] = i
	return true
}

// serviceRef checks that name is a VirtualService of the same namespace and
// mesh; it returns it, or nil.
func (o *rep) serviceRef(p *field.Path, name string) *v1.VirtualService {
	if name == "" {
		o.errorf(p, "required: the name of a VirtualService")
		return nil
	}
	s, ok := o.v.services[nsName{o.ns, name}]
	if !ok {
		o.errorf(p, "%s", notFound(v1.KindVirtualService, name, o.ns, o.v.services))
		return nil
	}
	o.sameMesh(p, v1.KindVirtualService, name, s.Spec.MeshRef)
	return s
}

// healthCheck checks an active health check; allowed are the protocols the
// listener kind offers.
func (o *rep) healthCheck(p *field.Path, hc *v1.HealthCheckPolicy, allowed []string) {
	if hc == nil {
		return
	}
	o.between(p.Child("healthyThreshold"), hc.HealthyThreshold, minThreshold, maxThreshold)
	o.between(p.Child("unhealthyThreshold"), hc.UnhealthyThreshold, minThreshold, maxThreshold)
	o.between(p.Child("intervalMillis"), hc.IntervalMillis, minIntervalMillis, maxIntervalMillis)
	o.between(p.Child("timeoutMillis"), hc.TimeoutMillis, minTimeoutMillis, maxTimeoutMillis)
	protoOK := o.enum(p.Child("protocol"), string(hc.Protocol), allowed)
	if hc.Path != nil && protoOK && !contains(httpCheckProtocols, string(hc.Protocol)) {
		o.errorf(p.Child("path"), "only http and http2 health checks have a path, this one is %s", hc.Protocol)
	}
	if hc.Path != nil && contains(httpCheckProtocols, string(hc.Protocol)) {
		o.pathPrefix(p.Child("path"), *hc.Path)
	}
	o.optPort(p.Child("port"), hc.Port)
}

// outlierDetection checks the ejection of failing endpoints.
func (o *rep) outlierDetection(p *field.Path, od *v1.OutlierDetection) {
	if od == nil {
		return
	}
	o.atLeast(p.Child("maxServerErrors"), od.MaxServerErrors, 1)
	o.between(p.Child("maxEjectionPercent"), od.MaxEjectionPercent, 0, 100)
	if o.duration(p.Child("interval"), od.Interval) && od.Interval.Value == 0 {
		o.errorf(p.Child("interval", "value"), "must be greater than 0: errors are counted over this interval")
	}
	o.duration(p.Child("baseEjectionDuration"), od.BaseEjectionDuration)
}

// protocolBlocks reports every block (connection pool or timeout) set for
// another protocol than the listener's, and whether the listener's is set.
func (o *rep) protocolBlocks(p *field.Path, proto string, blocks map[string]bool) bool {
	for _, name := range protocols {
		if blocks[name] && name != proto {
			o.errorf(p.Child(name), "does not apply to this %s listener: use %s.%s", proto, p.String(), proto)
		}
	}
	return blocks[proto]
}

// nodeConnectionPool checks that the pool matches the listener's protocol.
func (o *rep) nodeConnectionPool(p *field.Path, cp *v1.VirtualNodeConnectionPool, proto string) {
	if cp == nil {
		return
	}
	blocks := map[string]bool{"tcp": cp.TCP != nil, "http": cp.HTTP != nil, "http2": cp.HTTP2 != nil, "grpc": cp.GRPC != nil}
	if !o.protocolBlocks(p, proto, blocks) {
		o.errorf(p, "set %s.%s for this %s listener", p.String(), proto, proto)
	}
	if cp.TCP != nil {
		o.atLeast(p.Child("tcp", "maxConnections"), cp.TCP.MaxConnections, 1)
	}
	o.httpPools(p, cp.HTTP, cp.HTTP2, cp.GRPC)
}

// httpPools checks the values of the HTTP, HTTP/2 and gRPC pools.
func (o *rep) httpPools(p *field.Path, h *v1.HTTPConnectionPool, h2, g *v1.HTTP2ConnectionPool) {
	if h != nil {
		o.atLeast(p.Child("http", "maxConnections"), h.MaxConnections, 1)
		if h.MaxPendingRequests != nil {
			o.atLeast(p.Child("http", "maxPendingRequests"), *h.MaxPendingRequests, 1)
		}
	}
	if h2 != nil {
		o.atLeast(p.Child("http2", "maxRequests"), h2.MaxRequests, 1)
	}
	if g != nil {
		o.atLeast(p.Child("grpc", "maxRequests"), g.MaxRequests, 1)
	}
}

// nodeTimeout checks that only the listener protocol's timeout is set.
func (o *rep) nodeTimeout(p *field.Path, t *v1.ListenerTimeout, proto string) {
	if t == nil {
		return
	}
	blocks := map[string]bool{"tcp": t.TCP != nil, "http": t.HTTP != nil, "http2": t.HTTP2 != nil, "grpc": t.GRPC != nil}
	o.protocolBlocks(p, proto, blocks)
	if t.TCP != nil {
		o.optDuration(p.Child("tcp", "idle"), t.TCP.Idle)
	}
	o.httpTimeout(p.Child("http"), t.HTTP)
	o.httpTimeout(p.Child("http2"), t.HTTP2)
	o.httpTimeout(p.Child("grpc"), t.GRPC)
}

// serviceDiscovery checks where the node's endpoints come from.
func (o *rep) serviceDiscovery(p *field.Path, sd *v1.ServiceDiscovery, hasListeners bool) {
	if sd == nil {
		if hasListeners {
			o.errorf(p, "required when the node has listeners: set dns, static or kubernetes")
		}
		return
	}
	o.exactlyOne(p, []string{"dns", "static", "kubernetes", "awsCloudMap"},
		sd.DNS != nil, sd.Static != nil, sd.Kubernetes != nil, sd.AWSCloudMap != nil)
	if sd.AWSCloudMap != nil {
		o.errorf(p.Child("awsCloudMap"), "not supported by aimesh: use dns, static or kubernetes")
	}
	if d := sd.DNS; d != nil {
		dp := p.Child("dns")
		o.length(dp.Child("hostname"), d.Hostname, 1, 253)
		if d.ResponseType != nil {
			o.enum(dp.Child("responseType"), *d.ResponseType, dnsResponseTypes)
		}
		if d.IPPreference != nil {
			o.enum(dp.Child("ipPreference"), *d.IPPreference, ipPreferences)
		}
	}
	if s := sd.Static; s != nil {
		sp := p.Child("static", "endpoints")
		if len(s.Endpoints) == 0 {
			o.errorf(sp, "required: at least one {address, port}")
		}
		for i, e := range s.Endpoints {
			o.length(sp.Index(i).Child("address"), e.Address, 1, 253)
			o.optPort(sp.Index(i).Child("port"), e.Port)
		}
	}
	if k := sd.Kubernetes; k != nil {
		kp := p.Child("kubernetes")
		if !o.v.opts.Kubernetes {
			o.errorf(kp, "needs aimesh run --kubernetes: in file mode use dns or static")
		}
		o.dnsLabel(kp.Child("serviceName"), k.ServiceName, "Service name")
		if k.Namespace != "" {
			o.dnsLabel(kp.Child("namespace"), k.Namespace, "namespace")
		}
		o.optPort(kp.Child("port"), k.Port)
	}
}

// dnsLabel checks a Kubernetes Service or namespace name.
func (o *rep) dnsLabel(p *field.Path, s, what string) {
	if s == "" {
		o.errorf(p, "required: the %s", what)
		return
	}
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		o.errorf(p, "%s", fmt.Sprintf("must be a Kubernetes %s (lowercase letters, digits and '-', at most 63 characters), got %q", what, s))
	}
}
