// Package kube is aimesh's Kubernetes control plane: `aimesh run
// --kubernetes`. It owns the informers (a controller-runtime manager and
// cache) on the aimesh kinds, Namespaces, Services and EndpointSlices; the
// compile-and-swap loop that turns what they hold into the gateway's
// configuration; the EndpointSlice feed of VirtualNodes with
// serviceDiscovery.kubernetes; and the status conditions the leader
// writes.
//
// # One sync
//
// Every event pokes the syncer, which waits until events have been quiet
// for Options.Debounce (100ms; at most ten times that under a constant
// stream) and then:
//
//  1. reads the served Mesh (--mesh, or the only one) and every namespaced
//     resource in the namespaces its spec.namespaceSelector selects (an
//     empty selector selects all, an absent one none; a resource whose
//     meshRef names another existing Mesh is not ours). Resources outside
//     are ignored: not served, no status written. A GatewayRoute without
//     virtualGatewayRef is attached (in the sync's copy only) to the one
//     VirtualGateway whose spec.namespaceSelector selects its namespace
//     (absent: the gateway's own namespace; empty: all); one that several
//     select is not served and its status names them. The attachment is
//     part of what decides whether to apply again, so relabelling a
//     Namespace moves routes without any resource changing.
//  2. defaults and validates them with config.Prepare(res,
//     Options{Kubernetes: true}), as file mode does.
//  3. drops every resource with a problem, then validates the rest again,
//     which drops the resources that depended on the dropped ones (a
//     VirtualService whose VirtualRouter was dropped, a GatewayRoute whose
//     VirtualService was), until what is left is valid. Invalid resources
//     therefore never take down the valid rest: the rest is served, and
//     the dropped ones say why in their status. Of two resources that
//     conflict (two gateways on one port, two VirtualServices of one name
//     in different namespaces), the older one is served.
//  4. resolves the EndpointSlice addresses of every VirtualNode listener
//     with kubernetes discovery and feeds them to the gateway's endpoint
//     sets before applying, so a new node has its endpoints when its first
//     request arrives.
//  5. applies the result with the gateway's Apply, the same path file mode
//     uses. When the resources did not change (same objects, same
//     metadata.generation, same GatewayRoute attachments), only the
//     endpoints are fed, and Apply is not called: EndpointSlice churn never
//     recompiles routes.
//
// # Status
//
// Each served or dropped resource gets three conditions, written by the
// leader only (a Lease, controller-runtime leader election; every replica
// serves traffic):
//
//   - Accepted: False/Invalid with the resource's validation problems.
//   - ResolvedRefs: False with <Kind>NotFound (e.g. VirtualNodeNotFound,
//     "route llama-canary: VirtualNode \"x\" not found ...") or
//     <Kind>NotReady when the referenced resource exists but was dropped;
//     for kubernetes discovery ServiceNotFound or ServicePortNotFound.
//   - Ready: True/Served when the gateway serves the resource; otherwise
//     False with the reason of the first problem, or ApplyFailed when the
//     gateway refused the whole configuration (it then keeps serving the
//     previous one).
//
// When there is no Mesh to serve (none, several without --mesh, or the
// served one deleted) or nothing of it passes validation, nothing is
// applied: the gateway keeps serving what it last applied, and a warning
// says why. Deleting the Mesh therefore does not cut traffic; deleting or
// deselecting its resources does.
//
// # When the API server goes away
//
// The gateway keeps serving its last snapshot and its endpoint sets keep
// their last addresses: informers do not report deletions while they cannot
// list. If the leader cannot renew its Lease, its manager stops; Run
// starts a new one with backoff, and nothing is applied until the new
// cache has synced.
package kube
