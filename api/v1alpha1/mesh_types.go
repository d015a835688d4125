package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// EgressFilterType decides what happens to calls to hosts outside the mesh.
// +kubebuilder:validation:Enum=ALLOW_ALL;DROP_ALL
type EgressFilterType string

const (
	EgressAllowAll EgressFilterType = "ALLOW_ALL"
	EgressDropAll  EgressFilterType = "DROP_ALL"
)

// EgressFilter of a mesh.
type EgressFilter struct {
	// Type: ALLOW_ALL forwards calls to hosts outside the mesh, DROP_ALL
	// (the default, as in App Mesh) refuses them with 403.
	Type EgressFilterType `json:"type"`
}

// MeshServiceDiscovery holds mesh-wide discovery preferences.
type MeshServiceDiscovery struct {
	// IPPreference for DNS discovery: IPv4_ONLY or IPv6_ONLY.
	// +kubebuilder:validation:Enum=IPv4_ONLY;IPv6_ONLY
	// +optional
	IPPreference *string `json:"ipPreference,omitempty"`
}

// MeshSpec is the mesh boundary.
type MeshSpec struct {
	// +optional
	EgressFilter *EgressFilter `json:"egressFilter,omitempty"`
	// +optional
	ServiceDiscovery *MeshServiceDiscovery `json:"serviceDiscovery,omitempty"`
	// NamespaceSelector picks the namespaces whose resources belong to the
	// mesh in Kubernetes mode: empty selects all, absent selects none.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// Mesh is the boundary of a service mesh.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=aimesh
// +kubebuilder:printcolumn:name="Egress",type=string,JSONPath=`.spec.egressFilter.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Mesh struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MeshSpec `json:"spec,omitempty"`
	Status Status   `json:"status,omitempty"`
}

// MeshList is a list of Meshes.
// +kubebuilder:object:root=true
type MeshList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Mesh `json:"items"`
}
