package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// HTTPMethod of a request.
// +kubebuilder:validation:Enum=CONNECT;DELETE;GET;HEAD;OPTIONS;PATCH;POST;PUT;TRACE
type HTTPMethod string

// URLScheme of a request.
// +kubebuilder:validation:Enum=http;https
type URLScheme string

// ModelMatch (aimesh) matches the `model` field of an OpenAI-style JSON
// request body. Exactly one field is set. A route with a model match makes
// aimesh read the body (bounded by --max-body-bytes) when the route's other
// conditions match; the body is forwarded unchanged.
// +kubebuilder:validation:XValidation:rule="(has(self.exact) ? 1 : 0) + (has(self.prefix) ? 1 : 0) + (has(self.regex) ? 1 : 0) == 1",message="exactly one of exact, prefix or regex must be set"
type ModelMatch struct {
	// +kubebuilder:validation:MinLength=1
	// +optional
	Exact *string `json:"exact,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +optional
	Prefix *string `json:"prefix,omitempty"`
	// Regex (RE2 syntax) the whole model name must match.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Regex *string `json:"regex,omitempty"`
}

// HTTPRouteMatch selects HTTP and HTTP/2 requests. Every condition that is
// set must hold; at least one of prefix and path is set.
// +kubebuilder:validation:XValidation:rule="has(self.prefix) || has(self.path)",message="set prefix or path (prefix \"/\" matches every request)"
type HTTPRouteMatch struct {
	// Prefix of the path; "/" matches everything.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	// +optional
	Prefix *string `json:"prefix,omitempty"`
	// +optional
	Path *HTTPPathMatch `json:"path,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Headers []HTTPHeaderMatch `json:"headers,omitempty"`
	// +optional
	Method *HTTPMethod `json:"method,omitempty"`
	// +optional
	Scheme *URLScheme `json:"scheme,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	QueryParameters []HTTPQueryParameter `json:"queryParameters,omitempty"`
	// Port of the router listener the request arrived for.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
	// Model (aimesh) in the JSON request body.
	// +optional
	Model *ModelMatch `json:"model,omitempty"`
}

// WeightedTarget is a node and its relative weight.
type WeightedTarget struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	VirtualNode string `json:"virtualNode"`
	// Weight relative to the other targets.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight int64 `json:"weight"`
	// Port of the node's listener; required when it has several.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// FallbackTarget (aimesh) is tried, in order, when the weighted target and
// its retries failed or it has no endpoint to serve.
type FallbackTarget struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	VirtualNode string `json:"virtualNode"`
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// RouteAction says where matched requests go.
// +kubebuilder:validation:XValidation:rule="self.weightedTargets.exists(t, t.weight > 0)",message="weights add up to 0: give at least one target a weight above 0"
type RouteAction struct {
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	WeightedTargets []WeightedTarget `json:"weightedTargets"`
	// Fallback (aimesh) targets, tried in order.
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Fallback []FallbackTarget `json:"fallback,omitempty"`
}

// HTTPRetryPolicy retries failed attempts on another endpoint when one
// exists. A retry never happens after the first response byte reached the
// client.
// +kubebuilder:validation:XValidation:rule="has(self.httpRetryEvents) || has(self.tcpRetryEvents)",message="set at least one of httpRetryEvents or tcpRetryEvents: without events nothing is retried"
type HTTPRetryPolicy struct {
	// HTTPRetryEvents: server-error (5xx), gateway-error (502, 503, 504),
	// client-error (409), stream-error (refused stream / reset).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=25
	// +kubebuilder:validation:items:Enum=server-error;gateway-error;client-error;stream-error
	// +listType=set
	// +optional
	HTTPRetryEvents []string `json:"httpRetryEvents,omitempty"`
	// TCPRetryEvents: connection-error.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:items:Enum=connection-error
	// +listType=set
	// +optional
	TCPRetryEvents []string `json:"tcpRetryEvents,omitempty"`
	// PerRetryTimeout bounds each attempt until response headers arrive.
	PerRetryTimeout Duration `json:"perRetryTimeout"`
	// MaxRetries after the first attempt.
	// +kubebuilder:validation:Minimum=0
	MaxRetries int64 `json:"maxRetries"`
}

// HTTPRoute routes HTTP/1.1 (httpRoute) or HTTP/2 (http2Route) requests.
type HTTPRoute struct {
	Match  HTTPRouteMatch `json:"match"`
	Action RouteAction    `json:"action"`
	// +optional
	RetryPolicy *HTTPRetryPolicy `json:"retryPolicy,omitempty"`
	// +optional
	Timeout *HTTPTimeout `json:"timeout,omitempty"`
	// Criticality (aimesh) of the route's requests when their node is
	// saturated: Critical, Standard (default) or Sheddable.
	// +optional
	Criticality *Criticality `json:"criticality,omitempty"`
}

// GRPCRouteMetadata matches gRPC request metadata.
type GRPCRouteMetadata struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	Name string `json:"name"`
	// +optional
	Match *HeaderMatchMethod `json:"match,omitempty"`
	// +optional
	Invert *bool `json:"invert,omitempty"`
}

// GRPCRouteMatch selects gRPC calls (path /service/method).
// +kubebuilder:validation:XValidation:rule="!has(self.methodName) || has(self.serviceName)",message="methodName needs serviceName: a method is matched within a service",fieldPath=".methodName"
type GRPCRouteMatch struct {
	// ServiceName, fully qualified (package.Service).
	// +optional
	ServiceName *string `json:"serviceName,omitempty"`
	// MethodName; needs ServiceName.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	// +optional
	MethodName *string `json:"methodName,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Metadata []GRPCRouteMetadata `json:"metadata,omitempty"`
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// GRPCRetryPolicy adds gRPC status events to the HTTP retry policy.
// +kubebuilder:validation:XValidation:rule="has(self.grpcRetryEvents) || has(self.httpRetryEvents) || has(self.tcpRetryEvents)",message="set at least one of grpcRetryEvents, httpRetryEvents or tcpRetryEvents: without events nothing is retried"
type GRPCRetryPolicy struct {
	// GRPCRetryEvents: cancelled, deadline-exceeded, internal,
	// resource-exhausted, unavailable.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:Enum=cancelled;deadline-exceeded;internal;resource-exhausted;unavailable
	// +listType=set
	// +optional
	GRPCRetryEvents []string `json:"grpcRetryEvents,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=25
	// +kubebuilder:validation:items:Enum=server-error;gateway-error;client-error;stream-error
	// +listType=set
	// +optional
	HTTPRetryEvents []string `json:"httpRetryEvents,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:items:Enum=connection-error
	// +listType=set
	// +optional
	TCPRetryEvents  []string `json:"tcpRetryEvents,omitempty"`
	PerRetryTimeout Duration `json:"perRetryTimeout"`
	// +kubebuilder:validation:Minimum=0
	MaxRetries int64 `json:"maxRetries"`
}

// GRPCRoute routes gRPC calls over h2c.
type GRPCRoute struct {
	Match  GRPCRouteMatch `json:"match"`
	Action RouteAction    `json:"action"`
	// +optional
	RetryPolicy *GRPCRetryPolicy `json:"retryPolicy,omitempty"`
	// +optional
	Timeout *HTTPTimeout `json:"timeout,omitempty"`
}

// TCPRouteMatch selects connections by router listener port.
type TCPRouteMatch struct {
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// TCPRouteAction spreads connections over weighted nodes.
// +kubebuilder:validation:XValidation:rule="self.weightedTargets.exists(t, t.weight > 0)",message="weights add up to 0: give at least one target a weight above 0"
type TCPRouteAction struct {
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	WeightedTargets []WeightedTarget `json:"weightedTargets"`
}

// TCPRoute forwards TCP connections (L4).
type TCPRoute struct {
	// +optional
	Match  *TCPRouteMatch `json:"match,omitempty"`
	Action TCPRouteAction `json:"action"`
	// +optional
	Timeout *TCPTimeout `json:"timeout,omitempty"`
}

// Route is one of httpRoute, http2Route, grpcRoute or tcpRoute, with a
// priority.
// +kubebuilder:validation:XValidation:rule="(has(self.httpRoute) ? 1 : 0) + (has(self.http2Route) ? 1 : 0) + (has(self.grpcRoute) ? 1 : 0) + (has(self.tcpRoute) ? 1 : 0) == 1",message="exactly one of httpRoute, http2Route, grpcRoute or tcpRoute must be set"
type Route struct {
	// Name, unique within the router.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name"`
	// +optional
	HTTPRoute *HTTPRoute `json:"httpRoute,omitempty"`
	// +optional
	HTTP2Route *HTTPRoute `json:"http2Route,omitempty"`
	// +optional
	GRPCRoute *GRPCRoute `json:"grpcRoute,omitempty"`
	// +optional
	TCPRoute *TCPRoute `json:"tcpRoute,omitempty"`
	// Priority: 0 is matched first, 1000 last. Routes without a priority
	// come after those with one, in the order written.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Priority *int64 `json:"priority,omitempty"`
}

// VirtualRouterListener is a port the router accepts traffic for.
type VirtualRouterListener struct {
	PortMapping PortMapping `json:"portMapping"`
}

// VirtualRouterSpec holds the router's listeners and its routes.
type VirtualRouterSpec struct {
	// +optional
	MeshRef *MeshReference `json:"meshRef,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +optional
	Listeners []VirtualRouterListener `json:"listeners,omitempty"`
	// Routes, matched in priority order. Names are unique within the router.
	// +kubebuilder:validation:MaxItems=5000
	// +listType=map
	// +listMapKey=name
	// +optional
	Routes []Route `json:"routes,omitempty"`
}

// VirtualRouter routes a VirtualService's traffic to VirtualNodes.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aimesh,shortName=vr
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.spec.listeners[0].portMapping.port`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualRouter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualRouterSpec `json:"spec,omitempty"`
	Status Status            `json:"status,omitempty"`
}

// VirtualRouterList is a list of VirtualRouters.
// +kubebuilder:object:root=true
type VirtualRouterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualRouter `json:"items"`
}
