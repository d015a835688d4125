package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GatewayRouteHostnameMatch matches the request's host (port removed).
// Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.exact) ? 1 : 0) + (has(self.suffix) ? 1 : 0) == 1",message="exactly one of exact or suffix must be set"
type GatewayRouteHostnameMatch struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Exact *string `json:"exact,omitempty"`
	// Suffix, e.g. ".example.com".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Suffix *string `json:"suffix,omitempty"`
}

// HTTPGatewayRouteMatch selects requests at a gateway listener.
type HTTPGatewayRouteMatch struct {
	// Prefix of the path; "/" matches everything.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	// +optional
	Prefix *string `json:"prefix,omitempty"`
	// +optional
	Path *HTTPPathMatch `json:"path,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	QueryParameters []HTTPQueryParameter `json:"queryParameters,omitempty"`
	// +optional
	Method *HTTPMethod `json:"method,omitempty"`
	// +optional
	Hostname *GatewayRouteHostnameMatch `json:"hostname,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Headers []HTTPHeaderMatch `json:"headers,omitempty"`
	// Port of the gateway listener.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// GatewayRouteVirtualService names the target service.
type GatewayRouteVirtualService struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	VirtualServiceName string `json:"virtualServiceName"`
}

// GatewayRouteTarget is the VirtualService a gateway route sends to.
type GatewayRouteTarget struct {
	VirtualService GatewayRouteVirtualService `json:"virtualService"`
	// Port of the service's router listener; required when it has several.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// GatewayRouteHostnameRewrite: with ENABLED (the default) the Host header
// becomes the target VirtualService's name.
type GatewayRouteHostnameRewrite struct {
	// +kubebuilder:validation:Enum=ENABLED;DISABLED
	// +optional
	DefaultTargetHostname *string `json:"defaultTargetHostname,omitempty"`
}

// GatewayRoutePrefixRewrite rewrites the matched prefix. By default
// (defaultPrefix ENABLED) the matched prefix becomes "/"; value replaces it
// with another prefix; DISABLED keeps the path as it came.
// +kubebuilder:validation:XValidation:rule="(has(self.defaultPrefix) ? 1 : 0) + (has(self.value) ? 1 : 0) == 1",message="exactly one of defaultPrefix or value must be set"
type GatewayRoutePrefixRewrite struct {
	// +kubebuilder:validation:Enum=ENABLED;DISABLED
	// +optional
	DefaultPrefix *string `json:"defaultPrefix,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	// +optional
	Value *string `json:"value,omitempty"`
}

// GatewayRoutePathRewrite replaces the whole path.
type GatewayRoutePathRewrite struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	Exact string `json:"exact"`
}

// HTTPGatewayRouteRewrite rewrites a request before it is routed on.
// +kubebuilder:validation:XValidation:rule="!(has(self.prefix) && has(self.path))",message="set at most one of prefix, path"
type HTTPGatewayRouteRewrite struct {
	// +optional
	Prefix *GatewayRoutePrefixRewrite `json:"prefix,omitempty"`
	// +optional
	Path *GatewayRoutePathRewrite `json:"path,omitempty"`
	// +optional
	Hostname *GatewayRouteHostnameRewrite `json:"hostname,omitempty"`
}

// HTTPGatewayRouteAction sends the request to a VirtualService.
type HTTPGatewayRouteAction struct {
	Target GatewayRouteTarget `json:"target"`
	// +optional
	Rewrite *HTTPGatewayRouteRewrite `json:"rewrite,omitempty"`
}

// HTTPGatewayRoute is an httpRoute or http2Route of a gateway.
type HTTPGatewayRoute struct {
	Match  HTTPGatewayRouteMatch  `json:"match"`
	Action HTTPGatewayRouteAction `json:"action"`
}

// GRPCGatewayRouteMatch selects gRPC calls at a gateway listener.
type GRPCGatewayRouteMatch struct {
	// +optional
	ServiceName *string `json:"serviceName,omitempty"`
	// +optional
	Hostname *GatewayRouteHostnameMatch `json:"hostname,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Metadata []GRPCRouteMetadata `json:"metadata,omitempty"`
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// GRPCGatewayRouteRewrite rewrites the host of a gRPC call.
type GRPCGatewayRouteRewrite struct {
	// +optional
	Hostname *GatewayRouteHostnameRewrite `json:"hostname,omitempty"`
}

// GRPCGatewayRouteAction sends the call to a VirtualService.
type GRPCGatewayRouteAction struct {
	Target GatewayRouteTarget `json:"target"`
	// +optional
	Rewrite *GRPCGatewayRouteRewrite `json:"rewrite,omitempty"`
}

// GRPCGatewayRoute is a grpcRoute of a gateway.
type GRPCGatewayRoute struct {
	Match  GRPCGatewayRouteMatch  `json:"match"`
	Action GRPCGatewayRouteAction `json:"action"`
}

// VirtualGatewayReference names the gateway a route attaches to.
type VirtualGatewayReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Namespace of the gateway in Kubernetes mode; defaults to the route's.
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// GatewayRouteSpec is exactly one of httpRoute, http2Route or grpcRoute.
// +kubebuilder:validation:XValidation:rule="(has(self.httpRoute) ? 1 : 0) + (has(self.http2Route) ? 1 : 0) + (has(self.grpcRoute) ? 1 : 0) == 1",message="exactly one of httpRoute, http2Route or grpcRoute must be set"
type GatewayRouteSpec struct {
	// +optional
	MeshRef *MeshReference `json:"meshRef,omitempty"`
	// VirtualGatewayRef names the gateway. Without it the route attaches,
	// in Kubernetes mode, to the one VirtualGateway whose namespaceSelector
	// selects its namespace (two or more: it is not served), and otherwise
	// to the only VirtualGateway in its own namespace.
	// +optional
	VirtualGatewayRef *VirtualGatewayReference `json:"virtualGatewayRef,omitempty"`
	// +optional
	HTTPRoute *HTTPGatewayRoute `json:"httpRoute,omitempty"`
	// +optional
	HTTP2Route *HTTPGatewayRoute `json:"http2Route,omitempty"`
	// +optional
	GRPCRoute *GRPCGatewayRoute `json:"grpcRoute,omitempty"`
	// Priority: 0 is matched first; default 1000, the last.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Priority *int64 `json:"priority,omitempty"`
}

// GatewayRoute sends requests that reach a VirtualGateway to a
// VirtualService.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aimesh,shortName=gr
// +kubebuilder:printcolumn:name="Gateway",type=string,JSONPath=`.spec.virtualGatewayRef.name`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.httpRoute.action.target.virtualService.virtualServiceName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GatewayRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GatewayRouteSpec `json:"spec,omitempty"`
	Status Status           `json:"status,omitempty"`
}

// GatewayRouteList is a list of GatewayRoutes.
// +kubebuilder:object:root=true
type GatewayRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GatewayRoute `json:"items"`
}
