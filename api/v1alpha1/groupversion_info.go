package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every aimesh resource.
var GroupVersion = schema.GroupVersion{Group: "aimesh.io", Version: "v1alpha1"}

// Kind names, as they appear in YAML documents.
const (
	KindMesh           = "Mesh"
	KindVirtualNode    = "VirtualNode"
	KindVirtualService = "VirtualService"
	KindVirtualRouter  = "VirtualRouter"
	KindVirtualGateway = "VirtualGateway"
	KindGatewayRoute   = "GatewayRoute"
)

// AddToScheme registers the aimesh types with a runtime.Scheme. It is an
// explicit function rather than an init() side effect.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Mesh{}, &MeshList{},
		&VirtualNode{}, &VirtualNodeList{},
		&VirtualService{}, &VirtualServiceList{},
		&VirtualRouter{}, &VirtualRouterList{},
		&VirtualGateway{}, &VirtualGatewayList{},
		&GatewayRoute{}, &GatewayRouteList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
