package config

import (
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

func TestDefault(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, r *Resources)
	}{
		{
			name: "single mesh fills meshRef and DROP_ALL",
			yaml: `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: node}
spec:
  serviceDiscovery:
    dns: {hostname: node.internal}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: s.local}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: r}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: g}
spec:
  listeners: []
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: gr}
`,
			check: func(t *testing.T, r *Resources) {
				if got := r.Meshes[0].Spec.EgressFilter; got == nil || got.Type != v1.EgressDropAll {
					t.Errorf("egressFilter = %+v, want DROP_ALL", got)
				}
				refs := map[string]*v1.MeshReference{
					"VirtualNode":    r.VirtualNodes[0].Spec.MeshRef,
					"VirtualService": r.VirtualServices[0].Spec.MeshRef,
					"VirtualRouter":  r.VirtualRouters[0].Spec.MeshRef,
					"VirtualGateway": r.VirtualGateways[0].Spec.MeshRef,
					"GatewayRoute":   r.GatewayRoutes[0].Spec.MeshRef,
				}
				for kind, ref := range refs {
					if ref == nil || ref.Name != "m" {
						t.Errorf("%s meshRef = %+v, want m", kind, ref)
					}
				}
				if rt := r.VirtualNodes[0].Spec.ServiceDiscovery.DNS.ResponseType; rt == nil || *rt != "ENDPOINTS" {
					t.Errorf("dns responseType = %v, want ENDPOINTS", rt)
				}
				gr := r.GatewayRoutes[0].Spec
				if gr.Priority == nil || *gr.Priority != 1000 {
					t.Errorf("gateway route priority = %v, want 1000", gr.Priority)
				}
				if gr.VirtualGatewayRef == nil || gr.VirtualGatewayRef.Name != "g" {
					t.Errorf("virtualGatewayRef = %+v, want g", gr.VirtualGatewayRef)
				}
			},
		},
		{
			name: "set values are kept",
			yaml: `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
spec:
  egressFilter: {type: ALLOW_ALL}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: node}
spec:
  meshRef: {name: other}
  serviceDiscovery:
    dns: {hostname: node.internal, responseType: LOADBALANCER}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: gr}
spec:
  priority: 5
  virtualGatewayRef: {name: elsewhere}
`,
			check: func(t *testing.T, r *Resources) {
				if got := r.Meshes[0].Spec.EgressFilter.Type; got != v1.EgressAllowAll {
					t.Errorf("egressFilter = %s, want ALLOW_ALL", got)
				}
				if got := r.VirtualNodes[0].Spec.MeshRef.Name; got != "other" {
					t.Errorf("meshRef = %s, want other", got)
				}
				if got := *r.VirtualNodes[0].Spec.ServiceDiscovery.DNS.ResponseType; got != "LOADBALANCER" {
					t.Errorf("responseType = %s, want LOADBALANCER", got)
				}
				gr := r.GatewayRoutes[0].Spec
				if *gr.Priority != 5 || gr.VirtualGatewayRef.Name != "elsewhere" {
					t.Errorf("gateway route = priority %d ref %s, want 5 elsewhere", *gr.Priority, gr.VirtualGatewayRef.Name)
				}
			},
		},
		{
			name: "several meshes or gateways leave the refs empty",
			yaml: `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: a}
---
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: b}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: g1}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: g2}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: gr}
`,
			check: func(t *testing.T, r *Resources) {
				gr := r.GatewayRoutes[0].Spec
				if gr.MeshRef != nil || gr.VirtualGatewayRef != nil {
					t.Errorf("refs = %+v %+v, want both nil", gr.MeshRef, gr.VirtualGatewayRef)
				}
			},
		},
		{
			name: "the only gateway is looked for in the route's namespace",
			yaml: `
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: g, namespace: edge}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: gr, namespace: apps}
`,
			check: func(t *testing.T, r *Resources) {
				if ref := r.GatewayRoutes[0].Spec.VirtualGatewayRef; ref != nil {
					t.Errorf("virtualGatewayRef = %+v, want nil (no gateway in namespace apps)", ref)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, errs := Decode("t.yaml", []byte(tt.yaml))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			Default(r)
			tt.check(t, r)
			// Default is idempotent.
			Default(r)
			tt.check(t, r)
		})
	}
}
