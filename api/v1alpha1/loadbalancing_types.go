package v1alpha1

// This file holds aimesh's additions for picking model-server endpoints:
// VirtualNode loadBalancing and modelServer, and the httpRoute
// criticality that admission under saturation reads.

// LoadBalancingPolicy names how aimesh picks one endpoint of a VirtualNode.
// +kubebuilder:validation:Enum=roundRobin;random;leastRequest;inference
type LoadBalancingPolicy string

// Load-balancing policies.
const (
	LoadBalancingRoundRobin   LoadBalancingPolicy = "roundRobin"
	LoadBalancingRandom       LoadBalancingPolicy = "random"
	LoadBalancingLeastRequest LoadBalancingPolicy = "leastRequest"
	LoadBalancingInference    LoadBalancingPolicy = "inference"
)

// LoadBalancing (aimesh) says how one endpoint of the node is picked for
// each request. Whatever the policy, endpoints ejected by outlier detection
// or failed by the health check get no traffic, and a retry avoids the
// endpoints it already tried while others are left.
type LoadBalancing struct {
	// Policy is roundRobin (the default, App Mesh's behaviour), random,
	// leastRequest (power of two choices: of two random endpoints, the one
	// with fewer requests aimesh has in flight), or inference (model-server
	// aware: a weighted sum of queue depth, KV-cache usage, in-flight
	// tokens and prompt-prefix affinity; needs modelServer for the engine
	// metrics and otherwise falls back on aimesh's own counters).
	// +optional
	Policy LoadBalancingPolicy `json:"policy,omitempty"`
	// Inference tunes the inference policy; ignored by the others.
	// +optional
	Inference *InferenceLoadBalancing `json:"inference,omitempty"`
}

// InferenceLoadBalancing tunes the inference policy. Every scorer rates
// each endpoint in [0,1]; the endpoint with the highest weighted sum wins
// (ties broken at random). Saturated endpoints are dropped first when any
// endpoint is not saturated, so prefix affinity never piles requests onto
// a full server.
type InferenceLoadBalancing struct {
	// Weights of the scorers (defaults: queue 2, kvCache 2, inFlightTokens
	// 1, prefix 3).
	// +optional
	Weights *InferenceWeights `json:"weights,omitempty"`
	// QueueDepthThreshold: an endpoint with this many requests waiting in
	// its engine queue (scraped, plus those aimesh sent since) is
	// saturated. Default 5.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	QueueDepthThreshold *int64 `json:"queueDepthThreshold,omitempty"`
	// KVCacheUsageThresholdPercent: an endpoint whose KV cache is this full
	// while its engine has requests waiting is saturated (a cache full of
	// shared prefixes that still admits requests is not). Default 90.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	KVCacheUsageThresholdPercent *int64 `json:"kvCacheUsageThresholdPercent,omitempty"`
	// Prefix sizes the prompt-prefix index.
	// +optional
	Prefix *PrefixAffinity `json:"prefix,omitempty"`
}

// InferenceWeights are the relative weights of the inference scorers, 0-100
// each; 0 turns a scorer off.
type InferenceWeights struct {
	// Queue favours endpoints with short engine queues. Default 2.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Queue *int64 `json:"queue,omitempty"`
	// KVCache favours endpoints with free KV cache. Default 2.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	KVCache *int64 `json:"kvCache,omitempty"`
	// InFlightTokens favours endpoints with fewer estimated new tokens in
	// flight from aimesh: prompt (less what the endpoint likely has cached)
	// plus requested output. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	InFlightTokens *int64 `json:"inFlightTokens,omitempty"`
	// Prefix favours endpoints that were sent the longest leading part of
	// this request's prompt (their prefix cache likely still holds it).
	// Default 3.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Prefix *int64 `json:"prefix,omitempty"`
}

// PrefixAffinity sizes the approximate prefix index: the prompt (chat
// messages or completion prompt, as sent) is cut into blocks, each block
// hashed together with the ones before it, and aimesh remembers per
// endpoint, least recently used first out, the blocks it routed there.
// Memory is bounded by maxBlocksPerEndpoint × 112 bytes per endpoint
// (1.75 MiB at the default) and the index survives config reloads.
type PrefixAffinity struct {
	// BlockBytes is the prompt bytes per block (about 4 bytes a token).
	// Default 256.
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=65536
	// +optional
	BlockBytes *int64 `json:"blockBytes,omitempty"`
	// MaxBlocksPerEndpoint bounds the blocks remembered per endpoint; when
	// the engine reports its KV-cache size, the bound is also cut to what
	// that cache can hold. Default 16384.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1048576
	// +optional
	MaxBlocksPerEndpoint *int64 `json:"maxBlocksPerEndpoint,omitempty"`
}

// ModelServerEngine names the inference engine behind a node.
// +kubebuilder:validation:Enum=vllm;sglang;tgi;openai
type ModelServerEngine string

// Model-server engines.
const (
	EngineVLLM   ModelServerEngine = "vllm"
	EngineSGLang ModelServerEngine = "sglang"
	EngineTGI    ModelServerEngine = "tgi"
	EngineOpenAI ModelServerEngine = "openai"
)

// ModelServer (aimesh) says what serves the node's endpoints, so aimesh can
// scrape each endpoint's engine metrics off the request path: queue depth,
// running requests and KV-cache usage. Metrics older than three scrape
// intervals count as saturated.
type ModelServer struct {
	// Engine is vllm (vllm:num_requests_waiting, vllm:num_requests_running,
	// vllm:kv_cache_usage_perc or the older vllm:gpu_cache_usage_perc),
	// sglang (sglang:num_queue_reqs, sglang:num_running_reqs,
	// sglang:token_usage), tgi (tgi_queue_size, tgi_batch_current_size; no
	// KV usage), or openai (an OpenAI-compatible API without metrics:
	// nothing is scraped).
	Engine ModelServerEngine `json:"engine"`
	// MetricsPath is the Prometheus endpoint's path. Default /metrics.
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:MaxLength=255
	// +optional
	MetricsPath *string `json:"metricsPath,omitempty"`
	// MetricsPort serves the metrics. Default: the listener's port.
	// +optional
	MetricsPort *PortNumber `json:"metricsPort,omitempty"`
	// ScrapeInterval between two scrapes of one endpoint, 10 ms to 60 s.
	// Default 100ms.
	// +optional
	ScrapeInterval *Duration `json:"scrapeInterval,omitempty"`
}

// Criticality (aimesh) of a route's requests when the node they go to is
// saturated, as the Gateway API Inference Extension names it.
// +kubebuilder:validation:Enum=Critical;Standard;Sheddable
type Criticality string

// Criticalities. Critical and Standard requests are always forwarded;
// Sheddable ones are refused with 429 and Retry-After when every endpoint
// of the node (and of each fallback) is saturated. A request overrides its
// route's criticality with the header x-aimesh-criticality (critical,
// standard or sheddable, any case).
const (
	CriticalityCritical  Criticality = "Critical"
	CriticalityStandard  Criticality = "Standard"
	CriticalitySheddable Criticality = "Sheddable"
)
