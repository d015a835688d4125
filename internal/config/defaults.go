package config

import v1 "github.com/aimesh/aimesh/api/v1alpha1"

// Default fills in, in place, what App Mesh defaults and what a
// single-mesh configuration leaves implicit:
//   - meshRef: the only Mesh, when there is exactly one;
//   - Mesh egressFilter: DROP_ALL, App Mesh's default;
//   - GatewayRoute virtualGatewayRef: the only VirtualGateway (same
//     namespace), when there is exactly one; priority: 1000;
//   - DNS discovery responseType: ENDPOINTS.
//
// Timeouts and retry defaults are not written into the resources; the
// snapshot compiler applies them (see internal/snapshot).
func Default(r *Resources) {
	for _, m := range r.Meshes {
		if m.Spec.EgressFilter == nil {
			m.Spec.EgressFilter = &v1.EgressFilter{Type: v1.EgressDropAll}
		}
	}
	var mesh *v1.MeshReference
	if len(r.Meshes) == 1 {
		mesh = &v1.MeshReference{Name: r.Meshes[0].Name}
	}
	setMesh := func(ref **v1.MeshReference) {
		if *ref == nil && mesh != nil {
			m := *mesh
			*ref = &m
		}
	}
	for _, o := range r.VirtualNodes {
		setMesh(&o.Spec.MeshRef)
		if sd := o.Spec.ServiceDiscovery; sd != nil && sd.DNS != nil && sd.DNS.ResponseType == nil {
			t := "ENDPOINTS"
			sd.DNS.ResponseType = &t
		}
	}
	for _, o := range r.VirtualServices {
		setMesh(&o.Spec.MeshRef)
	}
	for _, o := range r.VirtualRouters {
		setMesh(&o.Spec.MeshRef)
	}
	for _, o := range r.VirtualGateways {
		setMesh(&o.Spec.MeshRef)
	}
	for _, o := range r.GatewayRoutes {
		setMesh(&o.Spec.MeshRef)
		if o.Spec.Priority == nil {
			p := int64(1000)
			o.Spec.Priority = &p
		}
		if o.Spec.VirtualGatewayRef == nil {
			var only *v1.VirtualGateway
			n := 0
			for _, g := range r.VirtualGateways {
				if g.Namespace == o.Namespace {
					only = g
					n++
				}
			}
			if n == 1 {
				o.Spec.VirtualGatewayRef = &v1.VirtualGatewayReference{Name: only.Name}
			}
		}
	}
}
