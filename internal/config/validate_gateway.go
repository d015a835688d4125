package config

import (
	"fmt"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// virtualGateway checks a gateway's listeners, client policy and logging.
// Gateway listener ports are unique across every VirtualGateway: one aimesh
// process binds them all.
func (v *validator) virtualGateway(g *v1.VirtualGateway) {
	o := v.report(v1.KindVirtualGateway, g.ObjectMeta)
	o.meshRef(g.Spec.MeshRef)
	spec := field.NewPath("spec")
	if len(g.Spec.Listeners) == 0 {
		o.errorf(spec.Child("listeners"), "required: at least one listener, e.g. {portMapping: {port: 8080, protocol: http}}")
	}
	seen := map[v1.PortNumber]int{}
	for i, l := range g.Spec.Listeners {
		p := spec.Child("listeners").Index(i)
		pm := l.PortMapping
		o.gatewayPort(p.Child("portMapping", "port"), pm.Port, i, seen)
		protoOK := o.enum(p.Child("portMapping", "protocol"), string(pm.Protocol), gatewayProtocols)
		o.healthCheck(p.Child("healthCheck"), l.HealthCheck, gatewayProtocols)
		if cp := l.ConnectionPool; cp != nil && protoOK {
			cpp := p.Child("connectionPool")
			blocks := map[string]bool{"http": cp.HTTP != nil, "http2": cp.HTTP2 != nil, "grpc": cp.GRPC != nil}
			if !o.protocolBlocks(cpp, string(pm.Protocol), blocks) {
				o.errorf(cpp, "set %s.%s for this %s listener", cpp.String(), pm.Protocol, pm.Protocol)
			}
			o.httpPools(cpp, cp.HTTP, cp.HTTP2, cp.GRPC)
		}
		o.listenerTLS(p.Child("tls"), l.TLS)
	}
	o.backendDefaults(spec.Child("backendDefaults"), g.Spec.BackendDefaults)
	o.logging(spec.Child("logging"), g.Spec.Logging)
}

// gatewayPort checks a gateway listener's port: unique within the gateway
// and across gateways.
func (o *rep) gatewayPort(p *field.Path, port v1.PortNumber, i int, seen map[v1.PortNumber]int) {
	if !o.port(p, port) {
		return
	}
	if j, dup := seen[port]; dup {
		o.errorf(p, "port %d is already used by listeners[%d]: listener ports must be unique", port, j)
		return
	}
	seen[port] = i
	if prev, used := o.v.gatewayPorts[port]; used {
		o.errorf(p, "port %d is already used by VirtualGateway %q (spec.listeners[%d]): one aimesh process serves every gateway, so each port can be bound once",
			port, prev.gateway, prev.index)
		return
	}
	o.v.gatewayPorts[port] = gatewayPort{gateway: o.key.DisplayName(), index: i}
}

// gatewayRef resolves the gateway a route attaches to, reporting at p
// (spec.virtualGatewayRef) why it does not resolve.
func (o *rep) gatewayRef(p *field.Path, ref *v1.VirtualGatewayReference) *v1.VirtualGateway {
	if ref == nil {
		var names []string
		var only *v1.VirtualGateway
		for k, g := range o.v.gateways {
			if k.ns == o.ns {
				names, only = append(names, k.name), g
			}
		}
		switch len(names) {
		case 0:
			where := "in this configuration"
			if o.ns != "" {
				where = fmt.Sprintf("in namespace %q", o.ns)
			}
			o.errorf(p, "required: there is no VirtualGateway %s to attach to; add one", where)
		case 1:
			return only
		default:
			o.errorf(p, "required: there are several VirtualGateways (%s); name the one this route attaches to", nameList(names))
		}
		return nil
	}
	ns := o.ns
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = *ref.Namespace
	}
	np := p.Child("name")
	if ref.Name == "" {
		o.errorf(np, "required: the name of a VirtualGateway")
		return nil
	}
	g, ok := o.v.gateways[nsName{ns, ref.Name}]
	if !ok {
		o.errorf(np, "%s", notFound(v1.KindVirtualGateway, ref.Name, ns, o.v.gateways))
		return nil
	}
	o.sameMesh(np, v1.KindVirtualGateway, ref.Name, g.Spec.MeshRef)
	return g
}
