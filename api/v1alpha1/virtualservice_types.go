package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// VirtualNodeServiceProvider sends a service's traffic to one node.
type VirtualNodeServiceProvider struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	VirtualNodeName string `json:"virtualNodeName"`
}

// VirtualRouterServiceProvider sends a service's traffic through a router.
type VirtualRouterServiceProvider struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	VirtualRouterName string `json:"virtualRouterName"`
}

// VirtualServiceProvider is exactly one of a node or a router.
// +kubebuilder:validation:XValidation:rule="(has(self.virtualNode) ? 1 : 0) + (has(self.virtualRouter) ? 1 : 0) == 1",message="exactly one of virtualNode or virtualRouter must be set"
type VirtualServiceProvider struct {
	// +optional
	VirtualNode *VirtualNodeServiceProvider `json:"virtualNode,omitempty"`
	// +optional
	VirtualRouter *VirtualRouterServiceProvider `json:"virtualRouter,omitempty"`
}

// VirtualServiceSpec is the name clients call.
type VirtualServiceSpec struct {
	// +optional
	MeshRef *MeshReference `json:"meshRef,omitempty"`
	// Provider of the service. Without one, calls get 503.
	// +optional
	Provider *VirtualServiceProvider `json:"provider,omitempty"`
}

// VirtualService is the name clients call, e.g. ai-api-service.local; its
// metadata.name is the hostname matched against the Host header.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aimesh,shortName=vs
// +kubebuilder:printcolumn:name="Router",type=string,JSONPath=`.spec.provider.virtualRouter.virtualRouterName`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.provider.virtualNode.virtualNodeName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualServiceSpec `json:"spec,omitempty"`
	Status Status             `json:"status,omitempty"`
}

// VirtualServiceList is a list of VirtualServices.
// +kubebuilder:object:root=true
type VirtualServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualService `json:"items"`
}
