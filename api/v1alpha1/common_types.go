package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DurationUnit is the unit of a Duration.
// +kubebuilder:validation:Enum=s;ms
type DurationUnit string

const (
	DurationUnitS  DurationUnit = "s"
	DurationUnitMS DurationUnit = "ms"
)

// Duration is App Mesh's {value, unit} duration. A value of 0 disables the
// timeout it sets.
type Duration struct {
	// Unit is s or ms.
	Unit DurationUnit `json:"unit"`
	// Value is a non-negative count of Unit.
	// +kubebuilder:validation:Minimum=0
	Value int64 `json:"value"`
}

// PortProtocol is a listener's protocol.
// +kubebuilder:validation:Enum=grpc;http;http2;tcp
type PortProtocol string

const (
	ProtocolHTTP  PortProtocol = "http"
	ProtocolHTTP2 PortProtocol = "http2"
	ProtocolGRPC  PortProtocol = "grpc"
	ProtocolTCP   PortProtocol = "tcp"
)

// PortNumber is a TCP port.
// +kubebuilder:validation:Minimum=1
// +kubebuilder:validation:Maximum=65535
type PortNumber int64

// PortMapping is a listener's port and protocol.
type PortMapping struct {
	// Port the listener serves.
	Port PortNumber `json:"port"`
	// Protocol: http, http2, grpc or tcp.
	Protocol PortProtocol `json:"protocol"`
}

// MeshReference names the Mesh a resource belongs to. When omitted, the
// resource belongs to the only Mesh in its configuration.
type MeshReference struct {
	// Name of the Mesh.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// MatchRange matches an integer value in [start, end).
// +kubebuilder:validation:XValidation:rule="self.start < self.end",message="start must be less than end (the range is [start, end))"
type MatchRange struct {
	// Start of the range, inclusive.
	Start int64 `json:"start"`
	// End of the range, exclusive.
	End int64 `json:"end"`
}

// HeaderMatchMethod matches a header (or gRPC metadata) value. Exactly one
// field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.exact) ? 1 : 0) + (has(self.prefix) ? 1 : 0) + (has(self.suffix) ? 1 : 0) + (has(self.regex) ? 1 : 0) + (has(self.range) ? 1 : 0) == 1",message="exactly one of exact, prefix, suffix, regex or range must be set"
type HeaderMatchMethod struct {
	// Exact value.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Exact *string `json:"exact,omitempty"`
	// Prefix of the value.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Prefix *string `json:"prefix,omitempty"`
	// Suffix of the value.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Suffix *string `json:"suffix,omitempty"`
	// Regex (RE2 syntax) the whole value must match.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Regex *string `json:"regex,omitempty"`
	// Range the value, parsed as an integer, must fall in.
	// +optional
	Range *MatchRange `json:"range,omitempty"`
}

// HTTPPathMatch matches the request path. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.exact) ? 1 : 0) + (has(self.regex) ? 1 : 0) == 1",message="exactly one of exact or regex must be set"
type HTTPPathMatch struct {
	// Exact path.
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with \"/\""
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Exact *string `json:"exact,omitempty"`
	// Regex (RE2 syntax) the whole path must match.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Regex *string `json:"regex,omitempty"`
}

// QueryMatchMethod matches a query parameter's value.
type QueryMatchMethod struct {
	// Exact value.
	// +optional
	Exact *string `json:"exact,omitempty"`
}

// HTTPQueryParameter matches a query parameter. Without match, the
// parameter only has to be present.
type HTTPQueryParameter struct {
	// Name of the parameter.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match for its value.
	// +optional
	Match *QueryMatchMethod `json:"match,omitempty"`
}

// HTTPHeaderMatch matches a request header. Without match, the header
// only has to be present; invert negates the whole result.
type HTTPHeaderMatch struct {
	// Name of the header (case-insensitive).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	Name string `json:"name"`
	// Match for its value.
	// +optional
	Match *HeaderMatchMethod `json:"match,omitempty"`
	// Invert selects requests that do not match. Default false.
	// +optional
	Invert *bool `json:"invert,omitempty"`
}

// Condition types written by the Kubernetes control plane.
const (
	ConditionAccepted     = "Accepted"
	ConditionResolvedRefs = "ResolvedRefs"
	ConditionReady        = "Ready"
)

// Status is the observed state every aimesh resource reports.
type Status struct {
	// Conditions: Accepted, ResolvedRefs and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}
