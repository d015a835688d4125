package config

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks every resource and every reference between them and
// returns every problem found, not just the first. It expects Default to
// have run (Prepare does both); without it, a missing meshRef or
// virtualGatewayRef still resolves when there is exactly one candidate.
//
// The rules are App Mesh's (ranges, enums, one-of fields) plus what aimesh
// needs: references must resolve within a namespace and a mesh, gateway
// ports must be unique across every VirtualGateway, VirtualService names
// (hostnames) must be unique within a mesh across namespaces, and features
// aimesh does not serve (Cloud Map, ACM, SDS) are refused with what to use
// instead.
// The split by kind: validate_node.go, validate_router.go,
// validate_route.go, validate_gateway.go, validate_gatewayroute.go; shared
// rules are in validate_rules.go and validate_tls.go.
func Validate(r *Resources, opts Options) ErrorList {
	v := newValidator(r, opts)
	v.checkMeshes()
	for _, o := range r.VirtualNodes {
		v.virtualNode(o)
	}
	for _, o := range r.VirtualServices {
		v.virtualService(o)
	}
	for _, o := range r.VirtualRouters {
		v.virtualRouter(o)
	}
	for _, o := range r.VirtualGateways {
		v.virtualGateway(o)
	}
	for _, o := range r.GatewayRoutes {
		v.gatewayRoute(o)
	}
	return v.errs
}

// nsName is a namespaced name, the key references resolve by.
type nsName struct{ ns, name string }

// validator holds the indexes every check resolves references with and
// collects the errors.
type validator struct {
	r    *Resources
	opts Options
	errs ErrorList

	meshes   map[string]*v1.Mesh
	nodes    map[nsName]*v1.VirtualNode
	services map[nsName]*v1.VirtualService
	routers  map[nsName]*v1.VirtualRouter
	gateways map[nsName]*v1.VirtualGateway
	// gatewayPorts records the first gateway listener bound to each port.
	gatewayPorts map[v1.PortNumber]gatewayPort
	// hostnames records the first VirtualService of each mesh to use each
	// name, lowercased: the hostname clients call.
	hostnames map[meshHost]*v1.VirtualService
}

type meshHost struct{ mesh, host string }

type gatewayPort struct {
	gateway string
	index   int
}

func newValidator(r *Resources, opts Options) *validator {
	v := &validator{
		r:            r,
		opts:         opts,
		meshes:       map[string]*v1.Mesh{},
		nodes:        map[nsName]*v1.VirtualNode{},
		services:     map[nsName]*v1.VirtualService{},
		routers:      map[nsName]*v1.VirtualRouter{},
		gateways:     map[nsName]*v1.VirtualGateway{},
		gatewayPorts: map[v1.PortNumber]gatewayPort{},
		hostnames:    map[meshHost]*v1.VirtualService{},
	}
	// Meshes are cluster-scoped: one name space for all of them.
	for _, o := range r.Meshes {
		if _, dup := v.meshes[o.Name]; dup {
			v.duplicate(v1.KindMesh, o.ObjectMeta)
			continue
		}
		v.meshes[o.Name] = o
	}
	index(v, v1.KindVirtualNode, r.VirtualNodes, v.nodes, func(o *v1.VirtualNode) metav1.ObjectMeta { return o.ObjectMeta })
	index(v, v1.KindVirtualService, r.VirtualServices, v.services, func(o *v1.VirtualService) metav1.ObjectMeta { return o.ObjectMeta })
	index(v, v1.KindVirtualRouter, r.VirtualRouters, v.routers, func(o *v1.VirtualRouter) metav1.ObjectMeta { return o.ObjectMeta })
	index(v, v1.KindVirtualGateway, r.VirtualGateways, v.gateways, func(o *v1.VirtualGateway) metav1.ObjectMeta { return o.ObjectMeta })
	return v
}

// index fills m with objs by namespace and name, reporting duplicates.
func index[T any](v *validator, kind string, objs []*T, m map[nsName]*T, meta func(*T) metav1.ObjectMeta) {
	for _, o := range objs {
		om := meta(o)
		k := nsName{om.Namespace, om.Name}
		if _, dup := m[k]; dup {
			v.duplicate(kind, om)
			continue
		}
		m[k] = o
	}
}

func (v *validator) duplicate(kind string, om metav1.ObjectMeta) {
	where := "in this configuration"
	if om.Namespace != "" && kind != v1.KindMesh {
		where = fmt.Sprintf("in namespace %q", om.Namespace)
	}
	v.report(kind, om).errorf(field.NewPath("metadata", "name"),
		"duplicate name: another %s named %q is defined %s (names are unique per kind and namespace)", kind, om.Name, where)
}

// report returns the reporter for one resource.
func (v *validator) report(kind string, om metav1.ObjectMeta) *rep {
	return &rep{v: v, key: ObjectKey{Kind: kind, Namespace: om.Namespace, Name: om.Name}, ns: om.Namespace}
}

// rep reports problems with one resource and knows its namespace and mesh.
type rep struct {
	v    *validator
	key  ObjectKey
	ns   string
	mesh string // resolved mesh name; "" when it does not resolve
}

func (o *rep) errorf(p *field.Path, format string, args ...any) {
	path := ""
	if p != nil {
		path = p.String()
	}
	o.v.errs = append(o.v.errs, o.v.r.errorf(o.key, path, format, args...))
}

// checkMeshes validates every Mesh and reports a configuration without one.
func (v *validator) checkMeshes() {
	if len(v.r.Meshes) == 0 {
		reason := "no Mesh in the configuration: add one (kind: Mesh); every resource belongs to a Mesh"
		if v.r.Len() == 0 {
			reason = "the configuration has no resources: expected Mesh, VirtualNode, VirtualService, VirtualRouter, VirtualGateway or GatewayRoute documents"
		}
		v.errs = append(v.errs, &FieldError{Kind: v1.KindMesh, Reason: reason})
	}
	for _, m := range v.r.Meshes {
		o := v.report(v1.KindMesh, m.ObjectMeta)
		spec := field.NewPath("spec")
		if ef := m.Spec.EgressFilter; ef != nil {
			o.enum(spec.Child("egressFilter", "type"), string(ef.Type), egressFilterTypes)
		}
		if sd := m.Spec.ServiceDiscovery; sd != nil && sd.IPPreference != nil {
			o.enum(spec.Child("serviceDiscovery", "ipPreference"), *sd.IPPreference, meshIPPreferences)
		}
	}
}

// meshRef resolves the resource's mesh, reports a reference that does not
// resolve, and remembers the mesh for the checks of references.
func (o *rep) meshRef(ref *v1.MeshReference) {
	p := field.NewPath("spec", "meshRef")
	o.mesh = o.v.meshName(ref)
	switch {
	case ref == nil:
		if n := len(o.v.meshes); n > 1 {
			o.errorf(p, "required: there are %d Meshes (%s); name the one this %s belongs to", n, o.v.meshList(), o.key.Kind)
		}
	case ref.Name == "":
		o.errorf(p.Child("name"), "required: the name of a Mesh (%s)", o.v.meshList())
	case o.mesh == "" && len(o.v.meshes) > 0:
		o.errorf(p.Child("name"), "Mesh %q not found (defined: %s)", ref.Name, o.v.meshList())
	case o.mesh == "":
		o.errorf(p.Child("name"), "Mesh %q not found", ref.Name)
	}
}

// meshName is the mesh ref names, or the only mesh when ref is nil; "" when
// it does not resolve.
func (v *validator) meshName(ref *v1.MeshReference) string {
	if ref == nil {
		for name := range v.meshes {
			if len(v.meshes) == 1 {
				return name
			}
		}
		return ""
	}
	if _, ok := v.meshes[ref.Name]; ok {
		return ref.Name
	}
	return ""
}

func (v *validator) meshList() string {
	names := make([]string, 0, len(v.meshes))
	for n := range v.meshes {
		names = append(names, n)
	}
	return nameList(names)
}

// sameMesh reports a reference to a resource of another mesh.
func (o *rep) sameMesh(p *field.Path, kind, name string, ref *v1.MeshReference) {
	other := o.v.meshName(ref)
	if o.mesh != "" && other != "" && other != o.mesh {
		o.errorf(p, "%s %q belongs to Mesh %q, not to Mesh %q: references stay within a mesh", kind, name, other, o.mesh)
	}
}

// notFound says that a referenced resource does not exist and which ones do.
func notFound[T any](kind, name, ns string, m map[nsName]*T) string {
	var names []string
	for k := range m {
		if k.ns == ns {
			names = append(names, k.name)
		}
	}
	where := ""
	if ns != "" {
		where = fmt.Sprintf(" in namespace %q", ns)
	}
	if len(names) == 0 {
		return fmt.Sprintf("%s %q not found%s", kind, name, where)
	}
	return fmt.Sprintf("%s %q not found%s (defined: %s)", kind, name, where, nameList(names))
}

// nameList is a sorted, comma-separated list of at most ten names.
func nameList(names []string) string {
	sort.Strings(names)
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// virtualService checks the service's name and provider.
func (v *validator) virtualService(s *v1.VirtualService) {
	o := v.report(v1.KindVirtualService, s.ObjectMeta)
	o.meshRef(s.Spec.MeshRef)
	if msgs := validation.IsDNS1123Subdomain(s.Name); len(msgs) > 0 {
		o.errorf(field.NewPath("metadata", "name"),
			"must be a DNS hostname (lowercase letters, digits, '-' and '.', at most 253 characters), got %q: clients call the service by this name", s.Name)
	}
	o.uniqueHostname(s)
	pv := s.Spec.Provider
	if pv == nil {
		return // allowed: calls get 503 until a provider is set
	}
	p := field.NewPath("spec", "provider")
	o.exactlyOne(p, []string{"virtualNode", "virtualRouter"}, pv.VirtualNode != nil, pv.VirtualRouter != nil)
	if pv.VirtualNode != nil {
		np := p.Child("virtualNode", "virtualNodeName")
		name := pv.VirtualNode.VirtualNodeName
		n, ok := v.nodes[nsName{s.Namespace, name}]
		switch {
		case name == "":
			o.errorf(np, "required: the VirtualNode that serves %q", s.Name)
		case !ok:
			o.errorf(np, "%s", notFound(v1.KindVirtualNode, name, s.Namespace, v.nodes))
		case len(n.Spec.Listeners) == 0:
			o.errorf(np, "VirtualNode %q has no listeners: give it one to serve %q", name, s.Name)
		default:
			o.sameMesh(np, v1.KindVirtualNode, name, n.Spec.MeshRef)
		}
	}
	if pv.VirtualRouter != nil {
		rp := p.Child("virtualRouter", "virtualRouterName")
		name := pv.VirtualRouter.VirtualRouterName
		vr, ok := v.routers[nsName{s.Namespace, name}]
		switch {
		case name == "":
			o.errorf(rp, "required: the VirtualRouter that routes %q", s.Name)
		case !ok:
			o.errorf(rp, "%s", notFound(v1.KindVirtualRouter, name, s.Namespace, v.routers))
		default:
			o.sameMesh(rp, v1.KindVirtualRouter, name, vr.Spec.MeshRef)
		}
	}
}

// uniqueHostname reports a VirtualService whose name, compared
// case-insensitively, an earlier VirtualService of the same mesh already
// has. The name is the hostname clients call, so only one of them could be
// served: the first in list order keeps it (file order; in Kubernetes mode
// the oldest, so that a new resource cannot take over a served hostname).
func (o *rep) uniqueHostname(s *v1.VirtualService) {
	if o.mesh == "" {
		return // the meshRef that does not resolve is reported
	}
	k := meshHost{o.mesh, strings.ToLower(s.Name)}
	first, taken := o.v.hostnames[k]
	if !taken {
		o.v.hostnames[k] = s
		return
	}
	if first.Namespace == s.Namespace && first.Name == s.Name {
		return // the same resource twice: reported as a duplicate name
	}
	where := fmt.Sprintf("in namespace %q", first.Namespace)
	if first.Namespace == "" {
		where = "without a namespace"
	}
	if src := o.v.r.SourceOf(ObjectKey{Kind: v1.KindVirtualService, Namespace: first.Namespace, Name: first.Name}).String(); src != "" {
		where += " (" + src + ")"
	}
	o.errorf(field.NewPath("metadata", "name"),
		"duplicate hostname: VirtualService %q %s has the same name (compared case-insensitively); VirtualService names are the hostnames clients call and are unique within a mesh (Mesh %q), across namespaces",
		first.Name, where, o.mesh)
}
