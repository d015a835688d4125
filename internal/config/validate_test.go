package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

// baseConfig has one resource of each kind and validates clean; each table
// case breaks (or exercises) one rule.
const baseConfig = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: vllm}
spec:
  listeners:
    - portMapping: {port: 9001, protocol: http}
  serviceDiscovery:
    static:
      endpoints: [{address: 127.0.0.1}]
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: redis}
spec:
  listeners:
    - portMapping: {port: 6379, protocol: tcp}
  serviceDiscovery:
    dns: {hostname: redis.internal}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: llm.local}
spec:
  provider:
    virtualRouter: {virtualRouterName: router}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: router}
spec:
  listeners:
    - portMapping: {port: 8080, protocol: http}
  routes:
    - name: r
      httpRoute:
        match: {prefix: /}
        action:
          weightedTargets: [{virtualNode: vllm, weight: 1}]
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec:
  listeners:
    - portMapping: {port: 8443, protocol: http}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: gr}
spec:
  httpRoute:
    match: {prefix: /}
    action:
      target:
        virtualService: {virtualServiceName: llm.local}
`

func ptr[T any](v T) *T { return &v }

// decodeBase decodes baseConfig and defaults it.
func decodeBase(t *testing.T) *Resources {
	t.Helper()
	r, errs := Decode("base.yaml", []byte(baseConfig))
	if len(errs) > 0 {
		t.Fatalf("decode base: %v", errs)
	}
	Default(r)
	return r
}

// problems formats errs without their source: "Kind/name: path: reason".
func problems(errs ErrorList) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		c := *e
		c.Source = Source{}
		out[i] = c.Error()
	}
	return out
}

// Short names for the base's resources, for the mutations below.
func node(r *Resources) *v1.VirtualNode       { return r.VirtualNodes[0] }
func router(r *Resources) *v1.VirtualRouter   { return r.VirtualRouters[0] }
func route(r *Resources) *v1.HTTPRoute        { return router(r).Spec.Routes[0].HTTPRoute }
func gateway(r *Resources) *v1.VirtualGateway { return r.VirtualGateways[0] }
func groute(r *Resources) *v1.HTTPGatewayRoute {
	return r.GatewayRoutes[0].Spec.HTTPRoute
}

func healthCheck() *v1.HealthCheckPolicy {
	return &v1.HealthCheckPolicy{Protocol: "http", HealthyThreshold: 2, UnhealthyThreshold: 2, IntervalMillis: 5000, TimeoutMillis: 2000}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		mutate func(r *Resources)
		want   []string
	}{
		{name: "base is valid", mutate: func(*Resources) {}},
		{
			name:   "listener port out of range",
			mutate: func(r *Resources) { node(r).Spec.Listeners[0].PortMapping.Port = 65536 },
			want:   []string{"VirtualNode/vllm: spec.listeners[0].portMapping.port: must be between 1 and 65535, got 65536"},
		},
		{
			name:   "listener protocol enum",
			mutate: func(r *Resources) { node(r).Spec.Listeners[0].PortMapping.Protocol = "udp" },
			want:   []string{`VirtualNode/vllm: spec.listeners[0].portMapping.protocol: must be one of http, http2, grpc, tcp, got "udp"`},
		},
		{
			name: "health check bounds are inclusive",
			mutate: func(r *Resources) {
				hc := healthCheck()
				hc.HealthyThreshold, hc.UnhealthyThreshold, hc.IntervalMillis, hc.TimeoutMillis = 10, 10, 300000, 60000
				node(r).Spec.Listeners[0].HealthCheck = hc
			},
		},
		{
			name: "health check just outside the bounds",
			mutate: func(r *Resources) {
				hc := healthCheck()
				hc.UnhealthyThreshold, hc.IntervalMillis, hc.TimeoutMillis = 1, 300001, 1999
				node(r).Spec.Listeners[0].HealthCheck = hc
			},
			want: []string{
				"VirtualNode/vllm: spec.listeners[0].healthCheck.unhealthyThreshold: must be between 2 and 10, got 1",
				"VirtualNode/vllm: spec.listeners[0].healthCheck.intervalMillis: must be between 5000 and 300000, got 300001",
				"VirtualNode/vllm: spec.listeners[0].healthCheck.timeoutMillis: must be between 2000 and 60000, got 1999",
			},
		},
		{
			name: "tcp health check has no path",
			mutate: func(r *Resources) {
				hc := healthCheck()
				hc.Protocol, hc.Path = "tcp", ptr("/health")
				node(r).Spec.Listeners[0].HealthCheck = hc
			},
			want: []string{"VirtualNode/vllm: spec.listeners[0].healthCheck.path: only http and http2 health checks have a path, this one is tcp"},
		},
		{
			name: "outlier detection",
			mutate: func(r *Resources) {
				node(r).Spec.Listeners[0].OutlierDetection = &v1.OutlierDetection{
					MaxServerErrors: 0, MaxEjectionPercent: 101,
					Interval:             v1.Duration{Value: 10, Unit: "s"},
					BaseEjectionDuration: v1.Duration{Value: 1, Unit: "h"},
				}
			},
			want: []string{
				"VirtualNode/vllm: spec.listeners[0].outlierDetection.maxServerErrors: must be at least 1, got 0",
				"VirtualNode/vllm: spec.listeners[0].outlierDetection.maxEjectionPercent: must be between 0 and 100, got 101",
				`VirtualNode/vllm: spec.listeners[0].outlierDetection.baseEjectionDuration.unit: must be one of s, ms, got "h"`,
			},
		},
		{
			name: "connection pool for another protocol",
			mutate: func(r *Resources) {
				node(r).Spec.Listeners[0].ConnectionPool = &v1.VirtualNodeConnectionPool{TCP: &v1.TCPConnectionPool{MaxConnections: 1}}
			},
			want: []string{
				"VirtualNode/vllm: spec.listeners[0].connectionPool.tcp: does not apply to this http listener: use spec.listeners[0].connectionPool.http",
				"VirtualNode/vllm: spec.listeners[0].connectionPool: set spec.listeners[0].connectionPool.http for this http listener",
			},
		},
		{
			name: "timeout blocks for other protocols",
			mutate: func(r *Resources) {
				node(r).Spec.Listeners[0].Timeout = &v1.ListenerTimeout{HTTP: &v1.HTTPTimeout{}, GRPC: &v1.HTTPTimeout{}}
			},
			want: []string{"VirtualNode/vllm: spec.listeners[0].timeout.grpc: does not apply to this http listener: use spec.listeners[0].timeout.http"},
		},
		{
			name: "kubernetes discovery in file mode",
			mutate: func(r *Resources) {
				node(r).Spec.ServiceDiscovery = &v1.ServiceDiscovery{Kubernetes: &v1.KubernetesServiceDiscovery{ServiceName: "vllm"}}
			},
			want: []string{"VirtualNode/vllm: spec.serviceDiscovery.kubernetes: needs aimesh run --kubernetes: in file mode use dns or static"},
		},
		{
			name: "kubernetes discovery and absent TLS files in kubernetes mode",
			opts: Options{Kubernetes: true},
			mutate: func(r *Resources) {
				node(r).Spec.ServiceDiscovery = &v1.ServiceDiscovery{Kubernetes: &v1.KubernetesServiceDiscovery{ServiceName: "vllm"}}
				node(r).Spec.Listeners[0].TLS = &v1.ListenerTLS{Mode: "STRICT", Certificate: v1.ListenerTLSCertificate{
					File: &v1.FileCertificate{CertificateChain: "/etc/tls/tls.crt", PrivateKey: "/etc/tls/tls.key"}}}
			},
		},
		{
			name: "TLS files must exist in file mode",
			mutate: func(r *Resources) {
				node(r).Spec.Listeners[0].TLS = &v1.ListenerTLS{Mode: "STRICT", Certificate: v1.ListenerTLSCertificate{
					File: &v1.FileCertificate{CertificateChain: "testdata/certs/server.pem", PrivateKey: "testdata/certs/nope.key"}}}
			},
			want: []string{`VirtualNode/vllm: spec.listeners[0].tls.certificate.file.privateKey: file "testdata/certs/nope.key" not found`},
		},
		{
			name: "client policy ACM trust is refused",
			mutate: func(r *Resources) {
				node(r).Spec.BackendDefaults = &v1.BackendDefaults{ClientPolicy: &v1.ClientPolicy{TLS: &v1.ClientPolicyTLS{
					Validation: v1.TLSValidationContext{Trust: v1.TLSValidationTrust{ACM: &v1.ACMTrust{CertificateAuthorityARNs: []string{"arn"}}}}}}}
			},
			want: []string{"VirtualNode/vllm: spec.backendDefaults.clientPolicy.tls.validation.trust.acm: not supported by aimesh yet: use file"},
		},
		{
			name: "backends: missing and duplicate",
			mutate: func(r *Resources) {
				node(r).Spec.Backends = []v1.Backend{
					{VirtualService: v1.VirtualServiceBackend{VirtualServiceName: "llm.local"}},
					{VirtualService: v1.VirtualServiceBackend{VirtualServiceName: "llm.local"}},
					{VirtualService: v1.VirtualServiceBackend{VirtualServiceName: "x.local"}},
				}
			},
			want: []string{
				`VirtualNode/vllm: spec.backends[1].virtualService.virtualServiceName: duplicate backend "llm.local": already listed at spec.backends[0]`,
				`VirtualNode/vllm: spec.backends[2].virtualService.virtualServiceName: VirtualService "x.local" not found (defined: llm.local)`,
			},
		},
		{
			name: "access log text of 1001 characters",
			mutate: func(r *Resources) {
				node(r).Spec.Logging = &v1.Logging{AccessLog: &v1.AccessLog{File: &v1.FileAccessLog{
					Path: "/dev/stdout", Format: &v1.LoggingFormat{Text: ptr(strings.Repeat("x", 1001))}}}}
			},
			want: []string{"VirtualNode/vllm: spec.logging.accessLog.file.format.text: must be 1 to 1000 characters, got 1001"},
		},
		{
			name:   "meshRef to a missing mesh",
			mutate: func(r *Resources) { node(r).Spec.MeshRef = &v1.MeshReference{Name: "mash"} },
			want:   []string{`VirtualNode/vllm: spec.meshRef.name: Mesh "mash" not found (defined: m)`},
		},
		{
			name:   "mesh egress filter type required",
			mutate: func(r *Resources) { r.Meshes[0].Spec.EgressFilter.Type = "" },
			want:   []string{"Mesh/m: spec.egressFilter.type: required: one of ALLOW_ALL, DROP_ALL"},
		},
		{
			name:   "service name must be a hostname",
			mutate: func(r *Resources) { r.VirtualServices[0].Name = "llm service" },
			want: []string{
				`VirtualService/llm service: metadata.name: must be a DNS hostname (lowercase letters, digits, '-' and '.', at most 253 characters), got "llm service": clients call the service by this name`,
				`GatewayRoute/gr: spec.httpRoute.action.target.virtualService.virtualServiceName: VirtualService "llm.local" not found (defined: llm service)`,
			},
		},
		{
			name: "service provider must exist",
			mutate: func(r *Resources) {
				r.VirtualServices[0].Spec.Provider = &v1.VirtualServiceProvider{VirtualNode: &v1.VirtualNodeServiceProvider{VirtualNodeName: "vlm"}}
			},
			want: []string{`VirtualService/llm.local: spec.provider.virtualNode.virtualNodeName: VirtualNode "vlm" not found (defined: redis, vllm)`},
		},
		{
			name:   "route of no kind",
			mutate: func(r *Resources) { router(r).Spec.Routes[0].HTTPRoute = nil },
			want:   []string{"VirtualRouter/router: spec.routes[0]: set exactly one of httpRoute, http2Route, grpcRoute, tcpRoute (got none)"},
		},
		{
			name:   "route priority bounds",
			mutate: func(r *Resources) { router(r).Spec.Routes[0].Priority = ptr(int64(1001)) },
			want:   []string{"VirtualRouter/router: spec.routes[0].priority: must be between 0 and 1000, got 1001"},
		},
		{
			name: "match needs prefix or path",
			mutate: func(r *Resources) {
				route(r).Match.Prefix = nil
				route(r).Match.Method = ptr(v1.HTTPMethod("GET"))
			},
			want: []string{`VirtualRouter/router: spec.routes[0].httpRoute.match: set prefix or path (prefix "/" matches every request)`},
		},
		{
			name:   "exact path starts with a slash",
			mutate: func(r *Resources) { route(r).Match.Path = &v1.HTTPPathMatch{Exact: ptr("v1/models")} },
			want:   []string{`VirtualRouter/router: spec.routes[0].httpRoute.match.path.exact: must start with "/", got "v1/models"`},
		},
		{
			name:   "regex of 256 characters",
			mutate: func(r *Resources) { route(r).Match.Path = &v1.HTTPPathMatch{Regex: ptr(strings.Repeat("a", 256))} },
			want:   []string{"VirtualRouter/router: spec.routes[0].httpRoute.match.path.regex: must be 1 to 255 characters, got 256"},
		},
		{
			name: "eleven headers",
			mutate: func(r *Resources) {
				for range 11 {
					route(r).Match.Headers = append(route(r).Match.Headers, v1.HTTPHeaderMatch{Name: "x"})
				}
			},
			want: []string{"VirtualRouter/router: spec.routes[0].httpRoute.match.headers: must have 1 to 10 entries, got 11"},
		},
		{
			name: "header range must not be empty",
			mutate: func(r *Resources) {
				route(r).Match.Headers = []v1.HTTPHeaderMatch{{Name: "x-n", Match: &v1.HeaderMatchMethod{Range: &v1.MatchRange{Start: 5, End: 1}}}}
			},
			want: []string{"VirtualRouter/router: spec.routes[0].httpRoute.match.headers[0].match.range: start must be less than end (the range is [start, end)), got start 5 and end 1"},
		},
		{
			name:   "model match is one of exact, prefix, regex",
			mutate: func(r *Resources) { route(r).Match.Model = &v1.ModelMatch{Exact: ptr("a"), Regex: ptr("b.*")} },
			want:   []string{"VirtualRouter/router: spec.routes[0].httpRoute.match.model: set exactly one of exact, prefix, regex (got exact and regex)"},
		},
		{
			name: "eleven weighted targets",
			mutate: func(r *Resources) {
				for i := range 10 {
					n := node(r).DeepCopy()
					n.Name = fmt.Sprintf("n%d", i)
					r.VirtualNodes = append(r.VirtualNodes, n)
					route(r).Action.WeightedTargets = append(route(r).Action.WeightedTargets, v1.WeightedTarget{VirtualNode: n.Name, Weight: 1})
				}
			},
			want: []string{
				"VirtualRouter/router: spec.routes[0].httpRoute.action.weightedTargets: must have 1 to 10 entries, got 11",
			},
		},
		{
			name: "fallback to a tcp node",
			mutate: func(r *Resources) {
				route(r).Action.Fallback = []v1.FallbackTarget{{VirtualNode: "redis"}}
			},
			want: []string{`VirtualRouter/router: spec.routes[0].httpRoute.action.fallback[0].virtualNode: VirtualNode "redis" listener 6379 is tcp: an http route needs an http, http2 or grpc listener`},
		},
		{
			name: "tcp route to an http node",
			mutate: func(r *Resources) {
				vr := router(r)
				vr.Spec.Listeners = []v1.VirtualRouterListener{{PortMapping: v1.PortMapping{Port: 6379, Protocol: "tcp"}}}
				vr.Spec.Routes[0] = v1.Route{Name: "t", TCPRoute: &v1.TCPRoute{Action: v1.TCPRouteAction{
					WeightedTargets: []v1.WeightedTarget{{VirtualNode: "redis", Weight: 1}, {VirtualNode: "vllm", Weight: 1}}}}}
			},
			want: []string{
				`VirtualRouter/router: spec.routes[0].tcpRoute.action.weightedTargets[1].virtualNode: VirtualNode "vllm" listener 9001 is http: a tcp route needs a tcp listener`,
				`GatewayRoute/gr: spec.httpRoute.action.target.virtualService.virtualServiceName: VirtualRouter "router" listener 6379 is tcp: a gateway route needs an http, http2 or grpc listener`,
			},
		},
		{
			name: "tcp retry events are connection-error only",
			mutate: func(r *Resources) {
				route(r).RetryPolicy = &v1.HTTPRetryPolicy{MaxRetries: 1, PerRetryTimeout: v1.Duration{Value: 1, Unit: "s"}, TCPRetryEvents: []string{"connect-failure"}}
			},
			want: []string{`VirtualRouter/router: spec.routes[0].httpRoute.retryPolicy.tcpRetryEvents[0]: must be one of connection-error, got "connect-failure"`},
		},
		{
			name: "duration unit required",
			mutate: func(r *Resources) {
				route(r).Timeout = &v1.HTTPTimeout{PerRequest: &v1.Duration{Value: 10}}
			},
			want: []string{"VirtualRouter/router: spec.routes[0].httpRoute.timeout.perRequest.unit: required: one of s, ms"},
		},
		{
			name:   "router without listeners",
			mutate: func(r *Resources) { router(r).Spec.Listeners = nil },
			want:   []string{"VirtualRouter/router: spec.listeners: required: at least one listener, e.g. {portMapping: {port: 8080, protocol: http}}"},
		},
		{
			name:   "gateway without listeners",
			mutate: func(r *Resources) { gateway(r).Spec.Listeners = nil },
			want:   []string{"VirtualGateway/gw: spec.listeners: required: at least one listener, e.g. {portMapping: {port: 8080, protocol: http}}"},
		},
		{
			name: "second gateway on the same port",
			mutate: func(r *Resources) {
				g := gateway(r).DeepCopy()
				g.Name = "gw2"
				r.VirtualGateways = append(r.VirtualGateways, g)
			},
			want: []string{`VirtualGateway/gw2: spec.listeners[0].portMapping.port: port 8443 is already used by VirtualGateway "gw" (spec.listeners[0]): one aimesh process serves every gateway, so each port can be bound once`},
		},
		{
			name: "gateway route hostname of 254 characters",
			mutate: func(r *Resources) {
				groute(r).Match.Hostname = &v1.GatewayRouteHostnameMatch{Suffix: ptr(strings.Repeat("a", 254))}
			},
			want: []string{"GatewayRoute/gr: spec.httpRoute.match.hostname.suffix: must be 1 to 253 characters, got 254"},
		},
		{
			name:   "gateway route priority",
			mutate: func(r *Resources) { r.GatewayRoutes[0].Spec.Priority = ptr(int64(1001)) },
			want:   []string{"GatewayRoute/gr: spec.priority: must be between 0 and 1000, got 1001"},
		},
		{
			name: "gateway route target port of a node provider",
			mutate: func(r *Resources) {
				r.VirtualServices[0].Spec.Provider = &v1.VirtualServiceProvider{VirtualNode: &v1.VirtualNodeServiceProvider{VirtualNodeName: "vllm"}}
				groute(r).Action.Target.Port = ptr(v1.PortNumber(8080))
			},
			want: []string{`GatewayRoute/gr: spec.httpRoute.action.target.port: VirtualNode "vllm", which serves VirtualService "llm.local", has no listener on port 8080 (listeners: 9001/http)`},
		},
		{
			name: "grpc gateway route rewrite",
			mutate: func(r *Resources) {
				gateway(r).Spec.Listeners[0].PortMapping.Protocol = "grpc"
				gr := &r.GatewayRoutes[0].Spec
				gr.HTTPRoute = nil
				gr.GRPCRoute = &v1.GRPCGatewayRoute{Action: v1.GRPCGatewayRouteAction{
					Target:  v1.GatewayRouteTarget{VirtualService: v1.GatewayRouteVirtualService{VirtualServiceName: "llm.local"}},
					Rewrite: &v1.GRPCGatewayRouteRewrite{Hostname: &v1.GatewayRouteHostnameRewrite{DefaultTargetHostname: ptr("enabled")}},
				}}
			},
			want: []string{`GatewayRoute/gr: spec.grpcRoute.action.rewrite.hostname.defaultTargetHostname: must be one of ENABLED, DISABLED, got "enabled"`},
		},
		{
			name: "gateway route needs the gateway when there are several",
			mutate: func(r *Resources) {
				g := gateway(r).DeepCopy()
				g.Name, g.Spec.Listeners[0].PortMapping.Port = "gw2", 9443
				r.VirtualGateways = append(r.VirtualGateways, g)
				r.GatewayRoutes[0].Spec.VirtualGatewayRef = nil
			},
			want: []string{"GatewayRoute/gr: spec.virtualGatewayRef: required: there are several VirtualGateways (gw, gw2); name the one this route attaches to"},
		},
		{
			name: "duplicate mesh and namespaced node",
			mutate: func(r *Resources) {
				r.Meshes = append(r.Meshes, r.Meshes[0].DeepCopy())
				node(r).Spec.MeshRef = nil // the name still resolves to the one Mesh m
				a, b := node(r).DeepCopy(), node(r).DeepCopy()
				a.Namespace, b.Namespace = "ml", "ml"
				r.VirtualNodes = append(r.VirtualNodes, a, b)
			},
			want: []string{
				`Mesh/m: metadata.name: duplicate name: another Mesh named "m" is defined in this configuration (names are unique per kind and namespace)`,
				`VirtualNode/ml/vllm: metadata.name: duplicate name: another VirtualNode named "vllm" is defined in namespace "ml" (names are unique per kind and namespace)`,
			},
		},
		{
			name: "virtual service hostname taken in another namespace of the mesh",
			mutate: func(r *Resources) {
				// Same name in ml, and the same hostname in another case in
				// ops: both later than the first, both reported.
				ml, ops := r.VirtualServices[0].DeepCopy(), r.VirtualServices[0].DeepCopy()
				ml.Namespace, ml.Spec.Provider = "ml", nil
				ops.Namespace, ops.Name, ops.Spec.Provider = "ops", "LLM.local", nil
				r.VirtualServices = append(r.VirtualServices, ml, ops)
			},
			want: []string{
				`VirtualService/ml/llm.local: metadata.name: duplicate hostname: VirtualService "llm.local" without a namespace (base.yaml[3]) has the same name (compared case-insensitively); VirtualService names are the hostnames clients call and are unique within a mesh (Mesh "m"), across namespaces`,
				`VirtualService/ops/LLM.local: metadata.name: must be a DNS hostname (lowercase letters, digits, '-' and '.', at most 253 characters), got "LLM.local": clients call the service by this name`,
				`VirtualService/ops/LLM.local: metadata.name: duplicate hostname: VirtualService "llm.local" without a namespace (base.yaml[3]) has the same name (compared case-insensitively); VirtualService names are the hostnames clients call and are unique within a mesh (Mesh "m"), across namespaces`,
			},
		},
		{
			name: "virtual service hostname in another mesh, and an exact duplicate reported once",
			mutate: func(r *Resources) {
				m2 := r.Meshes[0].DeepCopy()
				m2.Name = "m2"
				r.Meshes = append(r.Meshes, m2)
				other := r.VirtualServices[0].DeepCopy()
				other.Namespace, other.Spec.MeshRef, other.Spec.Provider = "ml", &v1.MeshReference{Name: "m2"}, nil
				r.VirtualServices = append(r.VirtualServices, other, r.VirtualServices[0].DeepCopy())
			},
			want: []string{
				`VirtualService/llm.local: metadata.name: duplicate name: another VirtualService named "llm.local" is defined in this configuration (names are unique per kind and namespace)`,
			},
		},
		{
			name: "kubernetes service and namespace names",
			opts: Options{Kubernetes: true},
			mutate: func(r *Resources) {
				node(r).Spec.ServiceDiscovery = &v1.ServiceDiscovery{Kubernetes: &v1.KubernetesServiceDiscovery{Namespace: "ML"}}
			},
			want: []string{
				"VirtualNode/vllm: spec.serviceDiscovery.kubernetes.namespace: must be a Kubernetes namespace (lowercase letters, digits and '-', at most 63 characters), got \"ML\"",
				"VirtualNode/vllm: spec.serviceDiscovery.kubernetes.serviceName: required: the Service name",
			},
		},
		{
			name: "empty references",
			mutate: func(r *Resources) {
				node(r).Spec.Backends = []v1.Backend{{}}
				route(r).Action.WeightedTargets[0].VirtualNode = ""
			},
			want: []string{
				"VirtualNode/vllm: spec.backends[0].virtualService.virtualServiceName: required: the name of a VirtualService",
				"VirtualRouter/router: spec.routes[0].httpRoute.action.weightedTargets[0].virtualNode: required: the name of a VirtualNode",
			},
		},
		{
			name:   "target port out of range is reported once",
			mutate: func(r *Resources) { route(r).Action.WeightedTargets[0].Port = ptr(v1.PortNumber(0)) },
			want:   []string{"VirtualRouter/router: spec.routes[0].httpRoute.action.weightedTargets[0].port: must be between 1 and 65535, got 0"},
		},
		{
			name: "gateway route port of another protocol",
			mutate: func(r *Resources) {
				gateway(r).Spec.Listeners = append(gateway(r).Spec.Listeners, v1.VirtualGatewayListener{
					PortMapping: v1.VirtualGatewayPortMapping{Port: 9443, Protocol: "grpc"}})
				groute(r).Match.Port = ptr(v1.PortNumber(9443))
			},
			want: []string{`GatewayRoute/gr: spec.httpRoute.match.port: listener 9443/grpc of VirtualGateway "gw" is not http: this route needs an http listener`},
		},
		{
			name: "gateway route to a gateway in another namespace",
			mutate: func(r *Resources) {
				gateway(r).Namespace = "edge"
				r.GatewayRoutes[0].Spec.VirtualGatewayRef = &v1.VirtualGatewayReference{Name: "gw", Namespace: ptr("edge")}
			},
		},
		{
			name: "grpc retry policy without events",
			mutate: func(r *Resources) {
				vr := router(r)
				vr.Spec.Listeners[0].PortMapping.Protocol = "grpc"
				node(r).Spec.Listeners[0].PortMapping.Protocol = "grpc"
				vr.Spec.Routes[0] = v1.Route{Name: "g", GRPCRoute: &v1.GRPCRoute{
					Action:      v1.RouteAction{WeightedTargets: []v1.WeightedTarget{{VirtualNode: "vllm", Weight: 1}}},
					RetryPolicy: &v1.GRPCRetryPolicy{PerRetryTimeout: v1.Duration{Value: 1, Unit: "s"}},
				}}
				r.VirtualGateways, r.GatewayRoutes = nil, nil
			},
			want: []string{"VirtualRouter/router: spec.routes[0].grpcRoute.retryPolicy: set at least one of grpcRetryEvents, httpRetryEvents or tcpRetryEvents: without events nothing is retried"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decodeBase(t)
			tt.mutate(r)
			got := problems(Validate(r, tt.opts))
			want := tt.want
			slices.Sort(got)
			want = slices.Clone(want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Validate:\n got  %q\n want %q", got, want)
			}
		})
	}
}

// Validate works without Default: a single Mesh or VirtualGateway is
// implied where the reference is missing.
func TestValidateWithoutDefault(t *testing.T) {
	r, errs := Decode("base.yaml", []byte(baseConfig))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := problems(Validate(r, Options{})); len(got) > 0 {
		t.Errorf("Validate before Default = %q, want no problems", got)
	}
}

// Every problem carries its resource's source, so it can be found.
func TestValidateSources(t *testing.T) {
	r := decodeBase(t)
	route(r).Action.WeightedTargets[0].VirtualNode = "llama-v3"
	errs := Validate(r, Options{})
	if len(errs) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(errs), errs)
	}
	want := `base.yaml[4] VirtualRouter/router: spec.routes[0].httpRoute.action.weightedTargets[0].virtualNode: VirtualNode "llama-v3" not found (defined: redis, vllm)`
	if got := errs[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
