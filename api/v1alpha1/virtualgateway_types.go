package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// VirtualGatewayPortMapping is a gateway listener's port; tcp is not
// offered on gateways.
type VirtualGatewayPortMapping struct {
	Port PortNumber `json:"port"`
	// Protocol: http, http2 or grpc.
	// +kubebuilder:validation:Enum=grpc;http;http2
	Protocol PortProtocol `json:"protocol"`
}

// VirtualGatewayConnectionPool limits a gateway listener's upstreams.
type VirtualGatewayConnectionPool struct {
	// +optional
	HTTP *HTTPConnectionPool `json:"http,omitempty"`
	// +optional
	HTTP2 *HTTP2ConnectionPool `json:"http2,omitempty"`
	// +optional
	GRPC *HTTP2ConnectionPool `json:"grpc,omitempty"`
}

// VirtualGatewayListener is a port aimesh accepts ingress traffic on.
// +kubebuilder:validation:XValidation:rule="!has(self.healthCheck) || self.healthCheck.protocol != 'tcp'",message="gateway health checks are http, http2 or grpc",fieldPath=".healthCheck.protocol"
// +kubebuilder:validation:XValidation:rule="!has(self.connectionPool) || ((has(self.connectionPool.http) ? 1 : 0) + (has(self.connectionPool.http2) ? 1 : 0) + (has(self.connectionPool.grpc) ? 1 : 0) == 1 && (self.portMapping.protocol == 'http' ? has(self.connectionPool.http) : self.portMapping.protocol == 'http2' ? has(self.connectionPool.http2) : has(self.connectionPool.grpc)))",message="connectionPool must set exactly one block, the one named like the listener's protocol (http, http2 or grpc)",fieldPath=".connectionPool"
type VirtualGatewayListener struct {
	PortMapping VirtualGatewayPortMapping `json:"portMapping"`
	// HealthCheck of the gateway itself (served on the admin listener).
	// +optional
	HealthCheck *HealthCheckPolicy `json:"healthCheck,omitempty"`
	// +optional
	ConnectionPool *VirtualGatewayConnectionPool `json:"connectionPool,omitempty"`
	// +optional
	TLS *ListenerTLS `json:"tls,omitempty"`
}

// VirtualGatewaySpec is the mesh's ingress.
type VirtualGatewaySpec struct {
	// +optional
	MeshRef *MeshReference `json:"meshRef,omitempty"`
	// +kubebuilder:validation:MinItems=1
	Listeners []VirtualGatewayListener `json:"listeners"`
	// +optional
	BackendDefaults *BackendDefaults `json:"backendDefaults,omitempty"`
	// +optional
	Logging *Logging `json:"logging,omitempty"`
	// NamespaceSelector picks the namespaces whose GatewayRoutes attach in
	// Kubernetes mode (besides those naming the gateway in
	// virtualGatewayRef): empty selects all, absent selects only the
	// gateway's own namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// VirtualGateway is the mesh's ingress: clients outside the mesh call its
// listeners, and GatewayRoutes send their requests to VirtualServices.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aimesh,shortName=vg
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.spec.listeners[0].portMapping.port`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualGateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualGatewaySpec `json:"spec,omitempty"`
	Status Status             `json:"status,omitempty"`
}

// VirtualGatewayList is a list of VirtualGateways.
// +kubebuilder:object:root=true
type VirtualGatewayList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualGateway `json:"items"`
}
