package snapshot

import (
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

const targetsConfig = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: a}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {static: {endpoints: [{address: 127.0.0.1}]}}
  loadBalancing: {policy: inference}
  modelServer: {engine: vllm}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: b}
spec:
  listeners: [{portMapping: {port: 8001, protocol: http}}]
  serviceDiscovery: {static: {endpoints: [{address: 127.0.0.2}]}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local}
spec: {provider: {virtualNode: {virtualNodeName: a}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: llm.local}
spec: {provider: {virtualRouter: {virtualRouterName: r}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: r}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
    - name: main
      httpRoute:
        match: {prefix: /}
        criticality: Sheddable
        action:
          weightedTargets: [{virtualNode: a, weight: 1}]
          fallback: [{virtualNode: b}]
`

func TestTargetsListsEverySetOnceWithItsSettings(t *testing.T) {
	snap, err := Compile(decodeDefault(t, targetsConfig), Options{Endpoints: discovery.NewRegistry(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ts := snap.Targets()
	if len(ts) != 2 {
		t.Fatalf("%d targets, want 2 (node a referenced twice is one Set)", len(ts))
	}
	byNode := map[string]*Target{}
	for _, tg := range ts {
		byNode[tg.Node.Name] = tg
	}
	a := byNode["a"]
	if a == nil || a.Spec.LoadBalancing.Policy != v1.LoadBalancingInference || a.Spec.ModelServer.Engine != v1.EngineVLLM ||
		a.Listener.PortMapping.Port != 8000 {
		t.Fatalf("target a = %+v", a)
	}
	e := snap.Service("llm.local").Router.HTTP.Entries()
	if e[0].Value.Criticality != v1.CriticalitySheddable {
		t.Fatalf("route criticality = %q", e[0].Value.Criticality)
	}
}
