package main

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The seed's mesh names (examples/seed-mesh.yaml), kept on EKS.
const (
	meshAPIVersion = "aimesh.io/v1alpha1"
	meshName       = "ai-mesh"
	appNodeName    = "ai-virtual-node"
	serviceName    = "ai-api-service.local"
	routerName     = "ai-virtual-router"
	gatewayName    = "ai-gateway"
	gatewayRoute   = "ai-api-route"
	modelNodeName  = "llm-v1" // the vLLM Deployment above
	// meshLabel on a namespace puts its aimesh resources into the mesh
	// named by the value: in Kubernetes mode a Mesh without a
	// namespaceSelector selects no namespace at all.
	meshLabel = "aimesh.io/mesh"
)

// meshObject is one aimesh resource: kind, name and spec.
type meshObject struct {
	kind, name string
	spec       map[string]any
}

// seedMesh is examples/seed-mesh.yaml as it runs on EKS: the Mesh selects
// the namespaces labelled meshLabel=ai-mesh, the model server VirtualNode
// finds its endpoints through the vLLM Service's EndpointSlices
// (serviceDiscovery.kubernetes) instead of static addresses, and with one
// model server version the canary route sends everything to llm-v1
// (docs/eks.md shows how to add llm-v2).
func seedMesh(cfg Config, ns string) []meshObject {
	http := func(port int) []any {
		return []any{map[string]any{"portMapping": map[string]any{"port": port, "protocol": "http"}}}
	}
	target := func(node string, weight int) []any {
		return []any{map[string]any{"virtualNode": node, "weight": weight}}
	}
	dur := func(v int) map[string]any { return map[string]any{"value": v, "unit": "s"} }
	return []meshObject{
		{"Mesh", meshName, map[string]any{
			"egressFilter":      map[string]any{"type": "ALLOW_ALL"},
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{meshLabel: meshName}},
		}},
		{"VirtualNode", appNodeName, map[string]any{
			"listeners": http(8080),
			// The app that calls the API; point this at your own Service.
			"serviceDiscovery": map[string]any{"dns": map[string]any{"hostname": "ai-app." + ns + ".svc.cluster.local"}},
			"backends":         []any{map[string]any{"virtualService": map[string]any{"virtualServiceName": serviceName}}},
		}},
		{"VirtualNode", modelNodeName, map[string]any{
			"listeners": http(modelServerPort),
			"serviceDiscovery": map[string]any{"kubernetes": map[string]any{
				"serviceName": modelServerName, "namespace": ns, "port": modelServerPort}},
		}},
		{"VirtualService", serviceName, map[string]any{
			"provider": map[string]any{"virtualRouter": map[string]any{"virtualRouterName": routerName}},
		}},
		{"VirtualRouter", routerName, map[string]any{
			"listeners": http(8080),
			"routes": []any{
				map[string]any{"name": "llama-canary", "priority": 10, "httpRoute": map[string]any{
					"match": map[string]any{"prefix": "/v1/", "method": "POST",
						"model": map[string]any{"exact": cfg.ServedModelName}},
					"action": map[string]any{"weightedTargets": target(modelNodeName, 100)},
					"retryPolicy": map[string]any{"maxRetries": 2, "perRetryTimeout": dur(30),
						"httpRetryEvents": []any{"gateway-error"}, "tcpRetryEvents": []any{"connection-error"}},
					"timeout": map[string]any{"perRequest": dur(600), "idle": dur(300)},
				}},
				map[string]any{"name": "models", "priority": 20, "httpRoute": map[string]any{
					"match":  map[string]any{"prefix": "/v1/models", "method": "GET"},
					"action": map[string]any{"weightedTargets": target(modelNodeName, 1)},
				}},
			},
		}},
		{"VirtualGateway", gatewayName, map[string]any{
			"listeners": http(cfg.GatewayPort),
			"logging":   map[string]any{"accessLog": map[string]any{"file": map[string]any{"path": "/dev/stdout"}}},
		}},
		{"GatewayRoute", gatewayRoute, map[string]any{
			"virtualGatewayRef": map[string]any{"name": gatewayName},
			"httpRoute": map[string]any{
				"match":  map[string]any{"prefix": "/"},
				"action": map[string]any{"target": map[string]any{"virtualService": map[string]any{"virtualServiceName": serviceName}}},
			},
		}},
	}
}

// mesh declares the seed mesh as aimesh custom resources once the chart
// has installed their CRDs. Mesh is cluster-scoped, the rest live in ns.
func (d *deployer) mesh(ns pulumi.StringOutput, nsName string, chart pulumi.Resource) error {
	for _, o := range seedMesh(d.cfg, nsName) {
		meta := &metav1.ObjectMetaArgs{Name: pulumi.String(o.name)}
		if o.kind != "Mesh" {
			meta.Namespace = ns
		}
		args := &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(meshAPIVersion),
			Kind:        pulumi.String(o.kind),
			Metadata:    meta,
			OtherFields: kubernetes.UntypedArgs{"spec": o.spec},
		}
		name := "mesh-" + o.name
		d.tw(name, args)
		if _, err := apiextensions.NewCustomResource(d.ctx, name, args, d.kubeOpt,
			pulumi.DependsOn([]pulumi.Resource{chart})); err != nil {
			return fmt.Errorf("%s %s: %w", o.kind, o.name, err)
		}
	}
	return nil
}
