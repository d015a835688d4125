// Package v1alpha1 holds aimesh's resource types: Mesh, VirtualNode,
// VirtualService, VirtualRouter (routes inline), VirtualGateway and
// GatewayRoute, in API group aimesh.io/v1alpha1.
//
// Field names follow AWS App Mesh (the App Mesh API and the
// appmesh.k8s.aws/v1beta2 CRDs) so that App Mesh users recognise every
// field. References between resources use App Mesh API names
// (virtualNode, virtualServiceName, virtualRouterName) rather than the
// CRDs' *Ref objects, so one YAML document serves both a local file and
// kubectl. aimesh additions are marked "aimesh:" in their comments.
//
// The same types are decoded from files by internal/config and become
// CRDs through controller-gen (make generate); zz_generated.deepcopy.go is
// generated and never edited by hand.
//
// +kubebuilder:object:generate=true
// +groupName=aimesh.io
package v1alpha1
