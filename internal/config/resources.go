package config

import (
	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

// Resources is one configuration: every resource of every kind, and where
// each came from.
type Resources struct {
	Meshes          []*v1.Mesh
	VirtualNodes    []*v1.VirtualNode
	VirtualServices []*v1.VirtualService
	VirtualRouters  []*v1.VirtualRouter
	VirtualGateways []*v1.VirtualGateway
	GatewayRoutes   []*v1.GatewayRoute

	sources map[ObjectKey]Source
}

// ObjectKey identifies a resource: its kind, namespace and name.
type ObjectKey struct {
	Kind, Namespace, Name string
}

// DisplayName is name, or namespace/name when the namespace is set.
func (k ObjectKey) DisplayName() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// SetSource records where a resource came from.
func (r *Resources) SetSource(k ObjectKey, s Source) {
	if r.sources == nil {
		r.sources = make(map[ObjectKey]Source)
	}
	r.sources[k] = s
}

// SourceOf says where a resource came from.
func (r *Resources) SourceOf(k ObjectKey) Source { return r.sources[k] }

// Len is the number of resources.
func (r *Resources) Len() int {
	return len(r.Meshes) + len(r.VirtualNodes) + len(r.VirtualServices) +
		len(r.VirtualRouters) + len(r.VirtualGateways) + len(r.GatewayRoutes)
}

// Append adds every resource of o to r, with its source.
func (r *Resources) Append(o *Resources) {
	r.Meshes = append(r.Meshes, o.Meshes...)
	r.VirtualNodes = append(r.VirtualNodes, o.VirtualNodes...)
	r.VirtualServices = append(r.VirtualServices, o.VirtualServices...)
	r.VirtualRouters = append(r.VirtualRouters, o.VirtualRouters...)
	r.VirtualGateways = append(r.VirtualGateways, o.VirtualGateways...)
	r.GatewayRoutes = append(r.GatewayRoutes, o.GatewayRoutes...)
	for k, s := range o.sources {
		r.SetSource(k, s)
	}
}

// errorf builds a FieldError about the resource k.
func (r *Resources) errorf(k ObjectKey, path, format string, args ...any) *FieldError {
	return &FieldError{Source: r.SourceOf(k), Kind: k.Kind, Name: k.DisplayName(), Path: path, Reason: sprintf(format, args...)}
}
