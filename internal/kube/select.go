package kube

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// selection is the served mesh's resources as one sync reads them.
type selection struct {
	// mesh is the served Mesh; nil when there is none to serve, and then
	// problem says why.
	mesh    *v1.Mesh
	problem string
	// res holds deep copies (the cache's List copies), sorted oldest first
	// so that conflicts (two gateways on one port, two VirtualServices with
	// one hostname) keep the older one.
	res *config.Resources
	// problems found while selecting (a GatewayRoute that several
	// VirtualGateways select, a VirtualGateway whose namespaceSelector does
	// not parse): those resources stay in res, for status, but are not
	// validated or served.
	problems map[config.ObjectKey][]*config.FieldError
	// generations of every resource in res, for status.
	generations map[config.ObjectKey]int64
	// fingerprint changes when the set of resources, a spec or a
	// GatewayRoute's attachment changes.
	fingerprint string
}

// selectResources lists the served Mesh and the resources that belong to
// it: those in namespaces its namespaceSelector selects whose meshRef is
// unset, names it, or names no existing Mesh (that is reported on them).
// It attaches GatewayRoutes without virtualGatewayRef by the
// VirtualGateways' namespaceSelectors (attachGatewayRoutes).
func selectResources(ctx context.Context, r client.Reader, meshName string) (*selection, error) {
	var meshes v1.MeshList
	if err := r.List(ctx, &meshes); err != nil {
		return nil, fmt.Errorf("list meshes: %w", err)
	}
	sel := &selection{res: &config.Resources{}, generations: map[config.ObjectKey]int64{}}
	mesh, problem := pickMesh(meshes.Items, meshName)
	if mesh == nil {
		sel.problem = problem
		return sel, nil
	}
	sel.mesh = mesh
	nsl := &namespaceLabels{r: r}
	namespaces, err := selectedNamespaces(ctx, nsl, mesh)
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	for _, m := range meshes.Items {
		exists[m.Name] = true
	}
	ours := func(om metav1.ObjectMeta, ref *v1.MeshReference) bool {
		if !namespaces(om.Namespace) {
			return false
		}
		return ref == nil || ref.Name == mesh.Name || !exists[ref.Name]
	}
	res := sel.res
	res.Meshes = []*v1.Mesh{mesh}
	var (
		nodes    v1.VirtualNodeList
		services v1.VirtualServiceList
		routers  v1.VirtualRouterList
		gateways v1.VirtualGatewayList
		routes   v1.GatewayRouteList
	)
	for _, l := range []client.ObjectList{&nodes, &services, &routers, &gateways, &routes} {
		if err := r.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T: %w", l, err)
		}
	}
	res.VirtualNodes = keep(nodes.Items, func(o *v1.VirtualNode) bool { return ours(o.ObjectMeta, o.Spec.MeshRef) })
	res.VirtualServices = keep(services.Items, func(o *v1.VirtualService) bool { return ours(o.ObjectMeta, o.Spec.MeshRef) })
	res.VirtualRouters = keep(routers.Items, func(o *v1.VirtualRouter) bool { return ours(o.ObjectMeta, o.Spec.MeshRef) })
	res.VirtualGateways = keep(gateways.Items, func(o *v1.VirtualGateway) bool { return ours(o.ObjectMeta, o.Spec.MeshRef) })
	res.GatewayRoutes = keep(routes.Items, func(o *v1.GatewayRoute) bool { return ours(o.ObjectMeta, o.Spec.MeshRef) })
	if sel.problems, err = attachGatewayRoutes(ctx, nsl, res); err != nil {
		return nil, err
	}
	sel.fingerprint = fingerprint(res, sel.generations)
	return sel, nil
}

// pickMesh is the Mesh named name, or the only Mesh.
func pickMesh(meshes []v1.Mesh, name string) (*v1.Mesh, string) {
	if name != "" {
		for i := range meshes {
			if meshes[i].Name == name {
				return &meshes[i], ""
			}
		}
		return nil, fmt.Sprintf("Mesh %q not found: create it, or pass the name of an existing Mesh to --mesh", name)
	}
	switch len(meshes) {
	case 0:
		return nil, "no Mesh in the cluster: create one (kind: Mesh)"
	case 1:
		return &meshes[0], ""
	}
	names := make([]string, len(meshes))
	for i, m := range meshes {
		names[i] = m.Name
	}
	slices.Sort(names)
	return nil, fmt.Sprintf("%d Meshes in the cluster (%v): pass the one to serve with --mesh", len(meshes), names)
}

// selectedNamespaces returns whether a namespace belongs to mesh: an empty
// namespaceSelector selects all namespaces, an absent one none.
func selectedNamespaces(ctx context.Context, nsl *namespaceLabels, mesh *v1.Mesh) (func(string) bool, error) {
	if mesh.Spec.NamespaceSelector == nil {
		return func(string) bool { return false }, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(mesh.Spec.NamespaceSelector)
	if err != nil {
		// The API server validates label selectors of built-in kinds
		// only. A bad one here fails the sync, which logs it and keeps
		// serving the last configuration: membership cannot be known.
		return nil, fmt.Errorf("Mesh %s: spec.namespaceSelector: %w", mesh.Name, err)
	}
	if selector.Empty() {
		return func(string) bool { return true }, nil
	}
	all, err := nsl.all(ctx)
	if err != nil {
		return nil, err
	}
	return func(ns string) bool {
		set, ok := all[ns]
		return ok && selector.Matches(set)
	}, nil
}

// keep returns pointers to the items keep accepts, oldest first, then by
// namespace and name.
func keep[T any, PT interface {
	*T
	metav1.Object
}](items []T, ok func(PT) bool) []PT {
	var out []PT
	for i := range items {
		if p := PT(&items[i]); ok(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b PT) int {
		ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
		if c := ta.Compare(tb.Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return out
}

// fingerprint hashes every resource's identity and generation and every
// GatewayRoute's gateway (which a Namespace's labels can change), and
// fills gens. A status write changes none, so it does not cause a re-apply.
func fingerprint(res *config.Resources, gens map[config.ObjectKey]int64) string {
	var lines []string
	add := func(kind string, o metav1.Object) {
		k := config.ObjectKey{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}
		gens[k] = o.GetGeneration()
		lines = append(lines, kind+"/"+k.DisplayName()+" "+string(o.GetUID())+" "+strconv.FormatInt(o.GetGeneration(), 10))
	}
	forEach(res, add)
	for _, gr := range res.GatewayRoutes {
		if ref := gr.Spec.VirtualGatewayRef; ref != nil {
			ns := gr.Namespace
			if ref.Namespace != nil && *ref.Namespace != "" {
				ns = *ref.Namespace
			}
			lines = append(lines, v1.KindGatewayRoute+"/"+gr.Namespace+"/"+gr.Name+" -> "+ns+"/"+ref.Name)
		}
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// forEach calls fn for every resource in res with its kind.
func forEach(res *config.Resources, fn func(kind string, o metav1.Object)) {
	for _, o := range res.Meshes {
		fn(v1.KindMesh, o)
	}
	for _, o := range res.VirtualNodes {
		fn(v1.KindVirtualNode, o)
	}
	for _, o := range res.VirtualServices {
		fn(v1.KindVirtualService, o)
	}
	for _, o := range res.VirtualRouters {
		fn(v1.KindVirtualRouter, o)
	}
	for _, o := range res.VirtualGateways {
		fn(v1.KindVirtualGateway, o)
	}
	for _, o := range res.GatewayRoutes {
		fn(v1.KindGatewayRoute, o)
	}
}

// keyOf is the ObjectKey of a resource of kind.
func keyOf(kind string, o metav1.Object) config.ObjectKey {
	return config.ObjectKey{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}
