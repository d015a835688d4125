package snapshot

import (
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/route"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// Snapshot is one compiled configuration. It is never modified after
// Compile returns.
type Snapshot struct {
	Generation int64
	Compiled   time.Time
	// Resources are the defaulted resources the snapshot was compiled from
	// (served on /config).
	Resources *config.Resources
	Mesh      string
	// AllowEgress is the Mesh's egressFilter ALLOW_ALL.
	AllowEgress bool
	// Gateways are the VirtualGateway listeners, one per port.
	Gateways []*GatewayListener
	// Services by lower-case hostname.
	Services map[string]*Service
	// Sidecar is the VirtualNode the mesh listener acts for (--node), or nil.
	Sidecar *Node
	// TCP are the ports with tcpRoutes.
	TCP []*TCPListener

	loggers []*telemetry.AccessLogger
}

// CloseLoggers closes the snapshot's access logs; call it once no request
// uses the snapshot any more. Files shared with a newer snapshot stay open.
func (s *Snapshot) CloseLoggers() {
	for _, l := range s.loggers {
		l.Close()
	}
}

// Service returns the VirtualService named host (case-insensitive).
func (s *Snapshot) Service(host string) *Service {
	if svc, ok := s.Services[host]; ok {
		return svc
	}
	return s.Services[strings.ToLower(host)]
}

// GatewayListener is one port of a VirtualGateway.
type GatewayListener struct {
	Gateway   string
	Port      int
	Protocol  v1.PortProtocol
	Routes    *route.Table[*GatewayRoute]
	AccessLog *telemetry.AccessLogger
	// Name is the metrics label, gateway:port.
	Name string
	// TLS terminates the listener's TLS (nil: plaintext).
	TLS *v1.ListenerTLS
	// ClientTLS is the gateway's backendDefaults client policy: TLS to
	// upstreams on the ports it covers (nil: plaintext).
	ClientTLS *v1.ClientPolicyTLS
}

// PrefixRewrite says what a GatewayRoute does with the matched prefix.
type PrefixRewrite int

const (
	// PrefixToSlash replaces the matched prefix with "/" (App Mesh default).
	PrefixToSlash PrefixRewrite = iota
	// PrefixKeep leaves the path alone (defaultPrefix DISABLED).
	PrefixKeep
	// PrefixValue replaces the matched prefix with PrefixValue.
	PrefixValue
)

// GatewayRoute is a compiled GatewayRoute.
type GatewayRoute struct {
	Name    string
	Service *Service
	// Port of the service's router listener the request goes to (0: the
	// first).
	Port int
	// RewriteHost sets Host to the service's name (default).
	RewriteHost bool
	// Prefix is the matched prefix ("" when the route matched no prefix).
	Prefix        string
	PrefixRewrite PrefixRewrite
	PrefixValue   string
	// PathRewrite, when set, replaces the whole path.
	PathRewrite string
}

// Service is a compiled VirtualService: a router or a node.
type Service struct {
	Name   string
	Router *Router
	// Node is the provider node when there is no router.
	Node *Target
}

// Router is a compiled VirtualRouter.
type Router struct {
	Name      string
	Listeners []RouterListener
	HTTP      *route.Table[*Route]
	HTTP2     *route.Table[*Route]
	GRPC      *route.Table[*Route]
	TCP       []*Route
}

// RouterListener is one router port.
type RouterListener struct {
	Port     int
	Protocol v1.PortProtocol
}

// Listener returns the router listener for port, or the first one when
// port is 0.
func (r *Router) Listener(port int) (RouterListener, bool) {
	for _, l := range r.Listeners {
		if port == 0 || l.Port == port {
			return l, true
		}
	}
	return RouterListener{}, false
}

// Table returns the route table for a protocol.
func (r *Router) Table(p v1.PortProtocol) *route.Table[*Route] {
	switch p {
	case v1.ProtocolHTTP2:
		return r.HTTP2
	case v1.ProtocolGRPC:
		return r.GRPC
	default:
		return r.HTTP
	}
}

// Route is a compiled route.
type Route struct {
	Name    string
	Router  string
	Service string
	Kind    v1.PortProtocol
	// Port is a tcpRoute's match.port (0: any listener port).
	Port int
	// Targets with cumulative weights: Targets[i] is picked when a draw in
	// [0, total) is below cum[i].
	Targets  []*Target
	cum      []int64
	total    int64
	Fallback []*Target
	Retry    RetryPolicy
	// Criticality of an httpRoute's requests ("" is Standard).
	Criticality v1.Criticality
	// PerRequest and Idle are the route timeouts (0: none).
	PerRequest time.Duration
	Idle       time.Duration
}

// Pick draws a weighted target.
func (r *Route) Pick() *Target {
	if len(r.Targets) == 1 {
		return r.Targets[0]
	}
	n := rand.Int64N(r.total)
	for i, c := range r.cum {
		if n < c {
			return r.Targets[i]
		}
	}
	return r.Targets[len(r.Targets)-1]
}

// RetryPolicy is a route's effective retry policy.
type RetryPolicy struct {
	MaxRetries int
	// PerTry bounds an attempt until response headers (0: none).
	PerTry time.Duration
	// Events.
	ServerError, GatewayError, ClientError, StreamError, ConnectionError bool
	// Status503 retries 503 alone (App Mesh's implicit policy).
	Status503 bool
	// GRPC retries these gRPC status codes (bit i set: code i).
	GRPC uint32
}

// RetryStatus reports whether an HTTP status is a retry event.
func (p *RetryPolicy) RetryStatus(code int) bool {
	switch {
	case p.ServerError && code >= 500 && code <= 599:
		return true
	case p.GatewayError && (code == 502 || code == 503 || code == 504):
		return true
	case p.Status503 && code == 503:
		return true
	case p.ClientError && code == 409:
		return true
	}
	return false
}

// RetryGRPC reports whether a gRPC status code is a retry event.
func (p *RetryPolicy) RetryGRPC(code int) bool {
	return code >= 0 && code < 32 && p.GRPC&(1<<uint(code)) != 0
}

// Target is a VirtualNode port a route sends to.
type Target struct {
	Node      *Node
	Port      int
	Protocol  v1.PortProtocol
	Endpoints *discovery.Set
	// PerRequestCap and IdleCap are the node listener's timeouts (0: none).
	PerRequestCap time.Duration
	IdleCap       time.Duration
	// MaxConns caps connections per endpoint (0: no cap).
	MaxConns int
	// Spec is the node's spec and Listener the listener targeted: the
	// picking (loadBalancing, modelServer) and health settings are read
	// from them by the long-lived managers (see Snapshot.Targets).
	Spec     *v1.VirtualNodeSpec
	Listener *v1.Listener

	metrics [maxListeners]atomic.Pointer[telemetry.RouteMetrics]
}

// maxListeners bounds the listener index used for per-target metric
// handles; listeners beyond it share the last slot's labels.
const maxListeners = 16

// Node is a compiled VirtualNode.
type Node struct {
	// Name is the node's name (namespace/name in Kubernetes mode).
	Name string
	// Backends are the lower-case VirtualService names the node may call.
	Backends  map[string]bool
	AccessLog *telemetry.AccessLogger
	// ClientTLS is the client policy for calls to each backend (lower-case
	// VirtualService name): the backend's own, else backendDefaults.
	ClientTLS map[string]*v1.ClientPolicyTLS
	rr        atomic.Uint64
}

// Next advances the node's round-robin cursor.
func (n *Node) Next() uint64 { return n.rr.Add(1) }

// TCPListener is a port with tcpRoutes.
type TCPListener struct {
	Port    int
	Service string
	Routes  []*Route
}

// Holder holds the current snapshot.
type Holder struct{ p atomic.Pointer[Snapshot] }

// Load returns the current snapshot (nil before the first Store).
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Store makes s the current snapshot.
func (h *Holder) Store(s *Snapshot) { h.p.Store(s) }
