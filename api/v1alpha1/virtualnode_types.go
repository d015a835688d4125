package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// HealthCheckPolicy is an active health check of a listener's endpoints.
// +kubebuilder:validation:XValidation:rule="!has(self.path) || self.protocol in ['http', 'http2']",message="only http and http2 health checks have a path",fieldPath=".path"
type HealthCheckPolicy struct {
	// HealthyThreshold: consecutive successes that mark an endpoint healthy.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	HealthyThreshold int64 `json:"healthyThreshold"`
	// IntervalMillis between checks.
	// +kubebuilder:validation:Minimum=5000
	// +kubebuilder:validation:Maximum=300000
	IntervalMillis int64 `json:"intervalMillis"`
	// Path for http and http2 checks.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	// +optional
	Path *string `json:"path,omitempty"`
	// Port to check; defaults to the listener's port.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
	// Protocol of the check: http, http2, grpc or tcp.
	Protocol PortProtocol `json:"protocol"`
	// TimeoutMillis for one check.
	// +kubebuilder:validation:Minimum=2000
	// +kubebuilder:validation:Maximum=60000
	TimeoutMillis int64 `json:"timeoutMillis"`
	// UnhealthyThreshold: consecutive failures that mark an endpoint unhealthy.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	UnhealthyThreshold int64 `json:"unhealthyThreshold"`
}

// OutlierDetection ejects endpoints that return server errors.
type OutlierDetection struct {
	// MaxServerErrors within Interval that eject an endpoint.
	// +kubebuilder:validation:Minimum=1
	MaxServerErrors int64 `json:"maxServerErrors"`
	// Interval over which errors are counted.
	Interval Duration `json:"interval"`
	// BaseEjectionDuration, multiplied by the times the endpoint was ejected.
	BaseEjectionDuration Duration `json:"baseEjectionDuration"`
	// MaxEjectionPercent of endpoints that may be ejected at once (at least
	// one endpoint can always be ejected).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxEjectionPercent int64 `json:"maxEjectionPercent"`
}

// HTTPConnectionPool limits HTTP/1.1 connections to each endpoint.
type HTTPConnectionPool struct {
	// MaxConnections per endpoint.
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections"`
	// MaxPendingRequests waiting for a connection.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxPendingRequests *int64 `json:"maxPendingRequests,omitempty"`
}

// HTTP2ConnectionPool limits concurrent HTTP/2 (and gRPC) requests.
type HTTP2ConnectionPool struct {
	// MaxRequests in flight per endpoint.
	// +kubebuilder:validation:Minimum=1
	MaxRequests int64 `json:"maxRequests"`
}

// TCPConnectionPool limits TCP connections to each endpoint.
type TCPConnectionPool struct {
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections"`
}

// VirtualNodeConnectionPool must match the listener's protocol.
type VirtualNodeConnectionPool struct {
	// +optional
	TCP *TCPConnectionPool `json:"tcp,omitempty"`
	// +optional
	HTTP *HTTPConnectionPool `json:"http,omitempty"`
	// +optional
	HTTP2 *HTTP2ConnectionPool `json:"http2,omitempty"`
	// +optional
	GRPC *HTTP2ConnectionPool `json:"grpc,omitempty"`
}

// HTTPTimeout bounds an HTTP, HTTP/2 or gRPC request.
type HTTPTimeout struct {
	// PerRequest bounds a request from its arrival until the response is
	// complete, streams included. aimesh's default is 600s (App Mesh's 15s
	// cuts long LLM generations); 0 disables it.
	// +optional
	PerRequest *Duration `json:"perRequest,omitempty"`
	// Idle bounds the time with no bytes from the upstream, e.g. between two
	// streamed tokens. Default 300s; 0 disables it.
	// +optional
	Idle *Duration `json:"idle,omitempty"`
}

// TCPTimeout bounds an idle TCP connection.
type TCPTimeout struct {
	// Idle: default 300s; 0 disables it.
	// +optional
	Idle *Duration `json:"idle,omitempty"`
}

// ListenerTimeout caps the timeouts of requests to this listener: a route
// timeout larger than the listener's is cut to it.
type ListenerTimeout struct {
	// +optional
	TCP *TCPTimeout `json:"tcp,omitempty"`
	// +optional
	HTTP *HTTPTimeout `json:"http,omitempty"`
	// +optional
	HTTP2 *HTTPTimeout `json:"http2,omitempty"`
	// +optional
	GRPC *HTTPTimeout `json:"grpc,omitempty"`
}

// Listener is a port the node's endpoints serve.
// +kubebuilder:validation:XValidation:rule="!has(self.connectionPool) || ((has(self.connectionPool.tcp) ? 1 : 0) + (has(self.connectionPool.http) ? 1 : 0) + (has(self.connectionPool.http2) ? 1 : 0) + (has(self.connectionPool.grpc) ? 1 : 0) == 1 && (self.portMapping.protocol == 'tcp' ? has(self.connectionPool.tcp) : self.portMapping.protocol == 'http' ? has(self.connectionPool.http) : self.portMapping.protocol == 'http2' ? has(self.connectionPool.http2) : has(self.connectionPool.grpc)))",message="connectionPool must set exactly one block, the one named like the listener's protocol (tcp, http, http2 or grpc)",fieldPath=".connectionPool"
// +kubebuilder:validation:XValidation:rule="!has(self.timeout) || ((!has(self.timeout.tcp) || self.portMapping.protocol == 'tcp') && (!has(self.timeout.http) || self.portMapping.protocol == 'http') && (!has(self.timeout.http2) || self.portMapping.protocol == 'http2') && (!has(self.timeout.grpc) || self.portMapping.protocol == 'grpc'))",message="timeout may only set the block named like the listener's protocol (tcp, http, http2 or grpc)",fieldPath=".timeout"
type Listener struct {
	PortMapping PortMapping `json:"portMapping"`
	// +optional
	HealthCheck *HealthCheckPolicy `json:"healthCheck,omitempty"`
	// +optional
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
	// +optional
	ConnectionPool *VirtualNodeConnectionPool `json:"connectionPool,omitempty"`
	// +optional
	Timeout *ListenerTimeout `json:"timeout,omitempty"`
	// +optional
	TLS *ListenerTLS `json:"tls,omitempty"`
}

// DNSServiceDiscovery resolves a hostname to the node's endpoints.
type DNSServiceDiscovery struct {
	// Hostname to resolve; aimesh re-resolves it periodically (--dns-refresh,
	// default 5s) and keeps the last good answer when a lookup fails.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname"`
	// ResponseType: ENDPOINTS (every address is an endpoint, the default) or
	// LOADBALANCER (the first address only).
	// +kubebuilder:validation:Enum=LOADBALANCER;ENDPOINTS
	// +optional
	ResponseType *string `json:"responseType,omitempty"`
	// IPPreference: IPv4_ONLY, IPv6_ONLY, IPv4_PREFERRED or IPv6_PREFERRED.
	// +kubebuilder:validation:Enum=IPv6_PREFERRED;IPv4_PREFERRED;IPv4_ONLY;IPv6_ONLY
	// +optional
	IPPreference *string `json:"ipPreference,omitempty"`
}

// AWSCloudMapInstanceAttribute filters Cloud Map instances.
type AWSCloudMapInstanceAttribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AWSCloudMapServiceDiscovery is App Mesh's Cloud Map discovery. aimesh
// accepts it in the schema so App Mesh configs decode, and validation
// refuses it with a pointer to dns, static or kubernetes.
type AWSCloudMapServiceDiscovery struct {
	NamespaceName string `json:"namespaceName"`
	ServiceName   string `json:"serviceName"`
	// +optional
	Attributes []AWSCloudMapInstanceAttribute `json:"attributes,omitempty"`
}

// StaticEndpoint is one fixed upstream address.
type StaticEndpoint struct {
	// Address: an IP address or a hostname (resolved once per refresh).
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Port of the endpoint; defaults to the listener's port.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// StaticServiceDiscovery (aimesh) lists the node's endpoints.
type StaticServiceDiscovery struct {
	// +kubebuilder:validation:MinItems=1
	Endpoints []StaticEndpoint `json:"endpoints"`
}

// KubernetesServiceDiscovery (aimesh) takes the node's endpoints from the
// ready addresses of a Kubernetes Service's EndpointSlices. It needs
// `aimesh run --kubernetes`.
type KubernetesServiceDiscovery struct {
	// ServiceName of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ServiceName string `json:"serviceName"`
	// Namespace of the Service; defaults to the VirtualNode's namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Port of the Service (its port number); defaults to the listener port.
	// +optional
	Port *PortNumber `json:"port,omitempty"`
}

// ServiceDiscovery says where the node's endpoints are. Exactly one field
// is set.
// +kubebuilder:validation:XValidation:rule="(has(self.dns) ? 1 : 0) + (has(self.awsCloudMap) ? 1 : 0) + (has(self.static) ? 1 : 0) + (has(self.kubernetes) ? 1 : 0) == 1",message="exactly one of dns, awsCloudMap, static or kubernetes must be set"
type ServiceDiscovery struct {
	// +optional
	DNS *DNSServiceDiscovery `json:"dns,omitempty"`
	// +optional
	AWSCloudMap *AWSCloudMapServiceDiscovery `json:"awsCloudMap,omitempty"`
	// +optional
	Static *StaticServiceDiscovery `json:"static,omitempty"`
	// +optional
	Kubernetes *KubernetesServiceDiscovery `json:"kubernetes,omitempty"`
}

// VirtualServiceBackend is a VirtualService the node may call.
type VirtualServiceBackend struct {
	// VirtualServiceName of the backend.
	// +kubebuilder:validation:MinLength=1
	VirtualServiceName string `json:"virtualServiceName"`
	// +optional
	ClientPolicy *ClientPolicy `json:"clientPolicy,omitempty"`
}

// Backend is one backend of a node.
type Backend struct {
	VirtualService VirtualServiceBackend `json:"virtualService"`
}

// JSONFormatRef is one key of a JSON access log line; Value is an
// Envoy-style format string such as "%RESPONSE_CODE%".
type JSONFormatRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Key string `json:"key"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	Value string `json:"value"`
}

// LoggingFormat is json or text; exactly one is set.
// +kubebuilder:validation:XValidation:rule="(has(self.json) ? 1 : 0) + (has(self.text) ? 1 : 0) == 1",message="exactly one of json or text must be set"
type LoggingFormat struct {
	// +optional
	JSON []JSONFormatRef `json:"json,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1000
	// +optional
	Text *string `json:"text,omitempty"`
}

// FileAccessLog writes one line per request to a file or /dev/stdout.
type FileAccessLog struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Path string `json:"path"`
	// Format defaults to Envoy's default text line.
	// +optional
	Format *LoggingFormat `json:"format,omitempty"`
}

// AccessLog configures access logging.
type AccessLog struct {
	// +optional
	File *FileAccessLog `json:"file,omitempty"`
}

// Logging of a node or gateway.
type Logging struct {
	// +optional
	AccessLog *AccessLog `json:"accessLog,omitempty"`
}

// VirtualNodeSpec is a pool of real endpoints.
// +kubebuilder:validation:XValidation:rule="!has(self.listeners) || size(self.listeners) == 0 || has(self.serviceDiscovery)",message="serviceDiscovery is required when the node has listeners: set dns, static or kubernetes",fieldPath=".serviceDiscovery"
type VirtualNodeSpec struct {
	// +optional
	MeshRef *MeshReference `json:"meshRef,omitempty"`
	// +optional
	Listeners []Listener `json:"listeners,omitempty"`
	// ServiceDiscovery is required when there are listeners.
	// +optional
	ServiceDiscovery *ServiceDiscovery `json:"serviceDiscovery,omitempty"`
	// Backends this node may call through the mesh (enforced by
	// `aimesh run --node`). At most 50, as in App Mesh.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Backends []Backend `json:"backends,omitempty"`
	// +optional
	BackendDefaults *BackendDefaults `json:"backendDefaults,omitempty"`
	// +optional
	Logging *Logging `json:"logging,omitempty"`
	// LoadBalancing (aimesh) picks one endpoint per request; default
	// roundRobin.
	// +optional
	LoadBalancing *LoadBalancing `json:"loadBalancing,omitempty"`
	// ModelServer (aimesh) names the engine behind the endpoints so aimesh
	// scrapes its load; default: not scraped.
	// +optional
	ModelServer *ModelServer `json:"modelServer,omitempty"`
}

// VirtualNode is a pool of real endpoints.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aimesh,shortName=vn
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.spec.listeners[0].portMapping.port`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.serviceDiscovery.kubernetes.serviceName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Accepted",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="ResolvedRefs",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="ResolvedRefs")].status`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualNode struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualNodeSpec `json:"spec,omitempty"`
	Status Status          `json:"status,omitempty"`
}

// VirtualNodeList is a list of VirtualNodes.
// +kubebuilder:object:root=true
type VirtualNodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualNode `json:"items"`
}
