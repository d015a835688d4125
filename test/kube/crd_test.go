package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/test/kubeenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// TestCRDsAcceptSeedMeshAndRefuseInvalid installs the generated CRDs (their
// OpenAPI schemas and CEL rules must compile within the API server's cost
// budget), applies the seed mesh with kubectl, and has the API server
// refuse invalid resources with messages naming the field.
func TestCRDsAcceptSeedMeshAndRefuseInvalid(t *testing.T) {
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := testContext(t, 2*time.Minute)
	c := newClient(t, env)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ai"}}); err != nil {
		t.Fatal(err)
	}

	out := mustKubectl(t, ctx, env, seedMesh(t, 8080), "apply", "-f", "-")
	for _, want := range []string{"mesh.aimesh.io/ai-mesh created", "virtualrouter.aimesh.io/ai-virtual-router created", "gatewayroute.aimesh.io/ai-api-route created"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply of the seed mesh: no %q in\n%s", want, out)
		}
	}
	out = mustKubectl(t, ctx, env, "", "get", "virtualrouters", "-n", "ai", "-o", "wide")
	for _, col := range []string{"PORT", "READY", "REASON", "ACCEPTED", "RESOLVEDREFS", "MESSAGE", "ai-virtual-router", "8080"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get virtualrouters -o wide: no %q in\n%s", col, out)
		}
	}

	// kubectl reports the refusal with the field path and the rule's message.
	bad := strings.Replace(seedMesh(t, 8080), "          weightedTargets:\n            - virtualNode: llm-v1\n              weight: 90",
		"          weightedTargets:\n            - virtualNode: llm-v1\n              weight: 900", 1)
	out, err := kubectl(ctx, env, bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.routes[0].httpRoute.action.weightedTargets[0].weight") || !strings.Contains(out, "less than or equal to 100") {
		t.Errorf("kubectl apply with weight 900: err=%v, want a refusal naming the field:\n%s", err, out)
	}

	dyn, err := dynamic.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range invalidResources {
		t.Run(tt.name, func(t *testing.T) {
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(tt.doc), &u.Object); err != nil {
				t.Fatalf("test case YAML: %v", err)
			}
			res := dyn.Resource(schema.GroupVersionResource{Group: "aimesh.io", Version: "v1alpha1", Resource: plural[u.GetKind()]})
			var api dynamic.ResourceInterface = res
			if u.GetKind() != "Mesh" {
				u.SetNamespace("ai")
				api = res.Namespace("ai")
			}
			_, err := api.Create(ctx, &u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil {
				t.Fatalf("the API server accepted it; want a refusal with %q and %q", tt.field, tt.message)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("refused with\n  %v\nwant the field %q and %q", err, tt.field, tt.message)
			}
		})
	}
}

var plural = map[string]string{
	"Mesh": "meshes", "VirtualNode": "virtualnodes", "VirtualService": "virtualservices",
	"VirtualRouter": "virtualrouters", "VirtualGateway": "virtualgateways", "GatewayRoute": "gatewayroutes",
}

// router is a VirtualRouter document with ROUTE replaced by one route.
func router(route string) string {
	return `
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: r}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
` + route
}

func node(spec string) string {
	return "apiVersion: aimesh.io/v1alpha1\nkind: VirtualNode\nmetadata: {name: node-a}\nspec:\n" + spec
}

func gatewayRoute(spec string) string {
	return "apiVersion: aimesh.io/v1alpha1\nkind: GatewayRoute\nmetadata: {name: g}\nspec:\n" + spec
}

const target = "action: {weightedTargets: [{virtualNode: a, weight: 1}]}"

var invalidResources = []struct {
	name, doc, field, message string
}{
	{"two route kinds", router(`    - name: x
      httpRoute: {match: {prefix: /}, ` + target + `}
      tcpRoute: {` + target + `}`),
		"spec.routes[0]", "exactly one of httpRoute, http2Route, grpcRoute or tcpRoute must be set"},
	{"no route kind", router("    - name: x\n      priority: 1"),
		"spec.routes[0]", "exactly one of httpRoute, http2Route, grpcRoute or tcpRoute must be set"},
	{"weights add up to 0", router("    - name: x\n      httpRoute: {match: {prefix: /}, action: {weightedTargets: [{virtualNode: a, weight: 0}]}}"),
		"spec.routes[0].httpRoute.action", "weights add up to 0"},
	{"eleven targets", router("    - name: x\n      httpRoute: {match: {prefix: /}, action: {weightedTargets: [" +
		strings.Repeat("{virtualNode: a, weight: 1},", 10) + "{virtualNode: a, weight: 1}]}}"),
		"spec.routes[0].httpRoute.action.weightedTargets", "must have at most 10 items"},
	{"path exact and regex", router("    - name: x\n      httpRoute: {match: {path: {exact: /a, regex: a.*}}, " + target + "}"),
		"spec.routes[0].httpRoute.match.path", "exactly one of exact or regex must be set"},
	{"prefix without a slash", router("    - name: x\n      httpRoute: {match: {prefix: v1}, " + target + "}"),
		"spec.routes[0].httpRoute.match.prefix", `must start with "/"`},
	{"neither prefix nor path", router("    - name: x\n      httpRoute: {match: {method: GET}, " + target + "}"),
		"spec.routes[0].httpRoute.match", "set prefix or path"},
	{"header matched two ways", router("    - name: x\n      httpRoute: {match: {prefix: /, headers: [{name: h, match: {exact: a, prefix: b}}]}, " + target + "}"),
		"spec.routes[0].httpRoute.match.headers[0].match", "exactly one of exact, prefix, suffix, regex or range must be set"},
	{"empty range", router("    - name: x\n      httpRoute: {match: {prefix: /, headers: [{name: h, match: {range: {start: 5, end: 5}}}]}, " + target + "}"),
		"spec.routes[0].httpRoute.match.headers[0].match.range", "start must be less than end"},
	{"model matched two ways", router("    - name: x\n      httpRoute: {match: {prefix: /, model: {exact: a, regex: b}}, " + target + "}"),
		"spec.routes[0].httpRoute.match.model", "exactly one of exact, prefix or regex must be set"},
	{"methodName without serviceName", router("    - name: x\n      grpcRoute: {match: {methodName: Get}, " + target + "}"),
		"spec.routes[0].grpcRoute.match.methodName", "methodName needs serviceName"},
	{"retry without events", router("    - name: x\n      httpRoute: {match: {prefix: /}, " + target + ", retryPolicy: {maxRetries: 1, perRetryTimeout: {value: 1, unit: s}}}"),
		"spec.routes[0].httpRoute.retryPolicy", "set at least one of httpRetryEvents or tcpRetryEvents"},
	{"unknown retry event", router("    - name: x\n      httpRoute: {match: {prefix: /}, " + target + ", retryPolicy: {maxRetries: 1, perRetryTimeout: {value: 1, unit: s}, httpRetryEvents: [bad-event]}}"),
		"spec.routes[0].httpRoute.retryPolicy.httpRetryEvents[0]", `Unsupported value: "bad-event"`},
	{"priority above 1000", router("    - name: x\n      priority: 2000\n      httpRoute: {match: {prefix: /}, " + target + "}"),
		"spec.routes[0].priority", "less than or equal to 1000"},
	{"duplicate route names", router("    - name: x\n      httpRoute: {match: {prefix: /}, " + target + "}\n    - name: x\n      httpRoute: {match: {prefix: /}, " + target + "}"),
		"spec.routes[1]", "Duplicate value"},
	{"provider node and router", `
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: s.local}
spec: {provider: {virtualNode: {virtualNodeName: a}, virtualRouter: {virtualRouterName: b}}}`,
		"spec.provider", "exactly one of virtualNode or virtualRouter must be set"},
	{"hostname exact and suffix", gatewayRoute("  httpRoute: {match: {prefix: /, hostname: {exact: a.com, suffix: .com}}, action: {target: {virtualService: {virtualServiceName: s}}}}"),
		"spec.httpRoute.match.hostname", "exactly one of exact or suffix must be set"},
	{"gateway route of two kinds", gatewayRoute("  httpRoute: {match: {prefix: /}, action: {target: {virtualService: {virtualServiceName: s}}}}\n  grpcRoute: {match: {}, action: {target: {virtualService: {virtualServiceName: s}}}}"),
		"spec", "exactly one of httpRoute, http2Route or grpcRoute must be set"},
	{"rewrite prefix and path", gatewayRoute("  httpRoute: {match: {prefix: /}, action: {target: {virtualService: {virtualServiceName: s}}, rewrite: {prefix: {value: /a/}, path: {exact: /b}}}}"),
		"spec.httpRoute.action.rewrite", "set at most one of prefix, path"},
	{"port out of range", node("  listeners: [{portMapping: {port: 70000, protocol: http}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].portMapping.port", "less than or equal to 65535"},
	{"health check interval", node("  listeners: [{portMapping: {port: 80, protocol: http}, healthCheck: {healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 1000, timeoutMillis: 2000, protocol: http}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].healthCheck.intervalMillis", "greater than or equal to 5000"},
	{"pool of another protocol", node("  listeners: [{portMapping: {port: 80, protocol: tcp}, connectionPool: {http: {maxConnections: 1}}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].connectionPool", "connectionPool must set exactly one block"},
	{"timeout of another protocol", node("  listeners: [{portMapping: {port: 80, protocol: http}, timeout: {grpc: {idle: {value: 1, unit: s}}}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].timeout", "timeout may only set the block named like the listener's protocol"},
	{"two discoveries", node("  listeners: [{portMapping: {port: 80, protocol: http}}]\n  serviceDiscovery: {dns: {hostname: a}, static: {endpoints: [{address: 10.0.0.1}]}}"),
		"spec.serviceDiscovery", "exactly one of dns, awsCloudMap, static or kubernetes must be set"},
	{"listeners without discovery", node("  listeners: [{portMapping: {port: 80, protocol: http}}]"),
		"spec.serviceDiscovery", "serviceDiscovery is required when the node has listeners"},
	{"service name not a DNS label", node("  listeners: [{portMapping: {port: 80, protocol: http}}]\n  serviceDiscovery: {kubernetes: {serviceName: Bad_Name}}"),
		"spec.serviceDiscovery.kubernetes.serviceName", "should match"},
	{"two certificates", node("  listeners: [{portMapping: {port: 80, protocol: http}, tls: {mode: STRICT, certificate: {acm: {certificateArn: arn}, sds: {secretName: s}}}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].tls.certificate", "exactly one of acm, file or sds must be set"},
	{"health check path on tcp", node("  listeners: [{portMapping: {port: 80, protocol: tcp}, healthCheck: {healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000, protocol: tcp, path: /h}}]\n  serviceDiscovery: {dns: {hostname: a}}"),
		"spec.listeners[0].healthCheck.path", "only http and http2 health checks have a path"},
	{"gateway health check over tcp", `
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec: {listeners: [{portMapping: {port: 80, protocol: http}, healthCheck: {healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000, protocol: tcp}}]}`,
		"spec.listeners[0].healthCheck.protocol", "gateway health checks are http, http2 or grpc"},
	{"egress filter", "apiVersion: aimesh.io/v1alpha1\nkind: Mesh\nmetadata: {name: m}\nspec: {egressFilter: {type: SOME}}",
		"spec.egressFilter.type", `Unsupported value: "SOME"`},
}
