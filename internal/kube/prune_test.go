package kube

import (
	"slices"
	"strings"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decode reads YAML documents as the cache would hand them over: no
// sources, namespaced kinds in namespace "ai" unless they say otherwise.
func decode(t *testing.T, docs string) *config.Resources {
	t.Helper()
	res, errs := config.Decode("test.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	out := &config.Resources{}
	forEach(res, func(kind string, o metav1.Object) {
		if kind != v1.KindMesh && o.GetNamespace() == "" {
			o.SetNamespace("ai")
		}
	})
	out.Meshes, out.VirtualNodes, out.VirtualServices = res.Meshes, res.VirtualNodes, res.VirtualServices
	out.VirtualRouters, out.VirtualGateways, out.GatewayRoutes = res.VirtualRouters, res.VirtualGateways, res.GatewayRoutes
	return out
}

const baseMesh = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: ai-mesh}
spec: {egressFilter: {type: ALLOW_ALL}, namespaceSelector: {}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm-v1}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {kubernetes: {serviceName: llm-v1}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm-v2}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {kubernetes: {serviceName: llm-v2}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local}
spec: {provider: {virtualNode: {virtualNodeName: llm-v2}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec: {listeners: [{portMapping: {port: 8080, protocol: http}}]}
`

// brokenRouting is a router whose canary route names a missing node, the
// service it provides and the gateway route to that service.
const brokenRouting = `
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: router}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
    - name: llama-canary
      httpRoute:
        match: {prefix: /}
        action: {weightedTargets: [{virtualNode: llm-v1, weight: 90}, {virtualNode: x, weight: 10}]}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: ai-api.local}
spec: {provider: {virtualRouter: {virtualRouterName: router}}}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: to-api}
spec:
  httpRoute:
    match: {prefix: /}
    action: {target: {virtualService: {virtualServiceName: ai-api.local}}}
`

func names[T metav1.Object](objs []T) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	slices.Sort(out)
	return out
}

func TestPruneDropsInvalidAndDependents(t *testing.T) {
	p := prune(decode(t, baseMesh+brokenRouting))
	if p.served == nil {
		t.Fatalf("nothing served; global problems: %v", p.global)
	}
	want := map[string][]string{
		"meshes":   {"ai-mesh"},
		"nodes":    {"llm-v1", "llm-v2"},
		"services": {"direct.local"},
		"routers":  nil,
		"gateways": {"gw"},
		"routes":   nil,
	}
	got := map[string][]string{
		"meshes":   names(p.served.Meshes),
		"nodes":    names(p.served.VirtualNodes),
		"services": names(p.served.VirtualServices),
		"routers":  names(p.served.VirtualRouters),
		"gateways": names(p.served.VirtualGateways),
		"routes":   names(p.served.GatewayRoutes),
	}
	for k := range want {
		if !slices.Equal(got[k], want[k]) {
			t.Errorf("served %s = %v, want %v", k, got[k], want[k])
		}
	}
	for _, k := range []config.ObjectKey{
		{Kind: v1.KindVirtualRouter, Namespace: "ai", Name: "router"},
		{Kind: v1.KindVirtualService, Namespace: "ai", Name: "ai-api.local"},
		{Kind: v1.KindGatewayRoute, Namespace: "ai", Name: "to-api"},
	} {
		if len(p.problems[k]) == 0 {
			t.Errorf("%s %s: dropped without a problem", k.Kind, k.DisplayName())
		}
	}
	if len(p.problems) != 3 {
		t.Errorf("problems for %d resources, want 3: %v", len(p.problems), p.problems)
	}
}

func TestPruneValidServesEverything(t *testing.T) {
	p := prune(decode(t, baseMesh))
	if p.served == nil || len(p.problems) != 0 {
		t.Fatalf("served=%v problems=%v global=%v", p.served != nil, p.problems, p.global)
	}
}

func TestPruneKeepsFirstGatewayOnAPortAndEmptyServesNothing(t *testing.T) {
	// Two gateways on one port: the second (in list order) is dropped, the
	// first served.
	docs := baseMesh + `
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw2}
spec: {listeners: [{portMapping: {port: 8080, protocol: http}}]}
`
	p := prune(decode(t, docs))
	if p.served == nil {
		t.Fatal("nothing served")
	}
	if got := names(p.served.VirtualGateways); !slices.Equal(got, []string{"gw"}) {
		t.Errorf("served gateways %v, want [gw]", got)
	}
	empty := prune(&config.Resources{})
	if empty.served != nil || len(empty.global) == 0 {
		t.Errorf("an empty mesh: served=%v global=%v, want nothing served and a global problem", empty.served != nil, empty.global)
	}
}

func TestStatusOfDroppedAndServed(t *testing.T) {
	res := decode(t, baseMesh+brokenRouting)
	sel := &selection{res: res, generations: map[config.ObjectKey]int64{}}
	fingerprint(res, sel.generations)
	p := prune(res)
	eps := &endpoints{problems: map[config.ObjectKey]problem{
		{Kind: v1.KindVirtualNode, Namespace: "ai", Name: "llm-v2"}: {ref: true, reason: ReasonServiceNotFound, message: "Service ai/llm-v2 not found"},
	}}
	st := computeStatus(sel, p, eps, nil)
	type want struct{ accepted, resolved, ready, reason, msg string }
	cases := map[config.ObjectKey]want{
		{Kind: v1.KindVirtualRouter, Namespace: "ai", Name: "router"}: {"True", "False", "False", "VirtualNodeNotFound",
			`route llama-canary: VirtualNode "x" not found`},
		{Kind: v1.KindVirtualService, Namespace: "ai", Name: "ai-api.local"}: {"True", "False", "False", "VirtualRouterNotReady",
			`VirtualRouter "router" is not served`},
		{Kind: v1.KindGatewayRoute, Namespace: "ai", Name: "to-api"}: {"True", "False", "False", "VirtualServiceNotReady",
			`VirtualService "ai-api.local" is not served`},
		{Kind: v1.KindVirtualNode, Namespace: "ai", Name: "llm-v1"}: {"True", "True", "True", ReasonServed, "served"},
		{Kind: v1.KindVirtualNode, Namespace: "ai", Name: "llm-v2"}: {"True", "False", "False", ReasonServiceNotFound, "Service ai/llm-v2 not found"},
		{Kind: v1.KindMesh, Name: "ai-mesh"}:                        {"True", "True", "True", ReasonServed, "served"},
	}
	for k, w := range cases {
		d, ok := st[k]
		if !ok {
			t.Errorf("%s %s: no status", k.Kind, k.DisplayName())
			continue
		}
		c := map[string]metav1.Condition{}
		for _, x := range d.conds {
			c[x.Type] = x
		}
		got := want{string(c["Accepted"].Status), string(c["ResolvedRefs"].Status), string(c["Ready"].Status), c["Ready"].Reason, c["Ready"].Message}
		if got.accepted != w.accepted || got.resolved != w.resolved || got.ready != w.ready || got.reason != w.reason || !strings.Contains(got.msg, w.msg) {
			t.Errorf("%s %s: got %+v, want %+v (conditions %+v)", k.Kind, k.DisplayName(), got, w, d.conds)
		}
	}
}

func TestClassify(t *testing.T) {
	router := &v1.VirtualRouter{Spec: v1.VirtualRouterSpec{Routes: []v1.Route{{Name: "llama-canary"}}}}
	k := config.ObjectKey{Kind: v1.KindVirtualRouter, Namespace: "ai", Name: "r"}
	none := func(string, string, string) bool { return false }
	tests := []struct {
		name    string
		fe      config.FieldError
		router  *v1.VirtualRouter
		exists  func(kind, ns, name string) bool
		ref     bool
		reason  string
		message string
	}{
		{"missing node in a route", config.FieldError{Path: "spec.routes[0].httpRoute.action.weightedTargets[1].virtualNode",
			Reason: `VirtualNode "x" not found in namespace "ai" (defined: llm-v1)`}, router, none,
			true, "VirtualNodeNotFound", `route llama-canary: VirtualNode "x" not found in namespace "ai" (defined: llm-v1)`},
		{"dropped router", config.FieldError{Path: "spec.provider.virtualRouter.virtualRouterName",
			Reason: `VirtualRouter "r" not found in namespace "ai"`}, nil,
			func(kind, ns, name string) bool { return kind == "VirtualRouter" && ns == "ai" && name == "r" },
			true, "VirtualRouterNotReady", `spec.provider.virtualRouter.virtualRouterName: VirtualRouter "r" is not served`},
		{"missing mesh", config.FieldError{Path: "spec.meshRef.name", Reason: `Mesh "m" not found`}, nil, none,
			true, "MeshNotFound", `spec.meshRef.name: Mesh "m" not found`},
		{"no gateway", config.FieldError{Path: "spec.virtualGatewayRef",
			Reason: `required: there is no VirtualGateway in namespace "ai" to attach to; add one`}, nil, none,
			true, "VirtualGatewayNotFound", "spec.virtualGatewayRef: required"},
		{"bad regex in a route", config.FieldError{Path: "spec.routes[0].httpRoute.match.path.regex",
			Reason: "invalid regular expression (RE2 syntax): missing closing )"}, router, none,
			false, ReasonInvalid, "spec.routes[0].httpRoute.match.path.regex (route llama-canary): invalid regular expression"},
		{"whole resource", config.FieldError{Reason: "something"}, nil, none, false, ReasonInvalid, "something"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(&tt.fe, k, tt.exists, tt.router)
			if got.ref != tt.ref || got.reason != tt.reason || !strings.HasPrefix(got.message, tt.message) {
				t.Errorf("classify = %+v, want ref=%v reason=%s message starting %q", got, tt.ref, tt.reason, tt.message)
			}
		})
	}
}

func TestJoinMessagesTruncates(t *testing.T) {
	long := strings.Repeat("é", maxMessage)
	got := joinMessages([]string{long})
	if len(got) > maxMessage || !strings.HasSuffix(got, "(truncated)") {
		t.Errorf("len %d, suffix %q", len(got), got[len(got)-20:])
	}
	if !strings.HasPrefix(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Error("truncation split a rune")
	}
}

func TestPruneKeepsFirstVirtualServiceOfAHostname(t *testing.T) {
	// direct.local in ai (baseMesh) and again in ai-b, provided by a node
	// of ai-b: the second in list order (the newer one, as selectResources
	// sorts) is dropped and says which one has the name; the first serves.
	docs := baseMesh + `
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm-b, namespace: ai-b}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {kubernetes: {serviceName: llm-b}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local, namespace: ai-b}
spec: {provider: {virtualNode: {virtualNodeName: llm-b}}}
`
	res := decode(t, docs)
	sel := &selection{res: res, generations: map[config.ObjectKey]int64{}}
	fingerprint(res, sel.generations)
	p := prune(res)
	if p.served == nil {
		t.Fatalf("nothing served; global problems: %v", p.global)
	}
	var served []string
	for _, vs := range p.served.VirtualServices {
		served = append(served, vs.Namespace+"/"+vs.Name+" -> "+vs.Spec.Provider.VirtualNode.VirtualNodeName)
	}
	if !slices.Equal(served, []string{"ai/direct.local -> llm-v2"}) {
		t.Errorf("served services %v, want [ai/direct.local -> llm-v2]", served)
	}
	if got := names(p.served.VirtualNodes); !slices.Contains(got, "llm-b") {
		t.Errorf("served nodes %v: the node of the dropped service is valid and should stay", got)
	}
	second := config.ObjectKey{Kind: v1.KindVirtualService, Namespace: "ai-b", Name: "direct.local"}
	if len(p.problems) != 1 || len(p.problems[second]) != 1 {
		t.Fatalf("problems %v, want one, for ai-b/direct.local", p.problems)
	}
	c := map[string]metav1.Condition{}
	for _, x := range computeStatus(sel, p, nil, nil)[second].conds {
		c[x.Type] = x
	}
	want := `metadata.name: duplicate hostname: VirtualService "direct.local" in namespace "ai" has the same name`
	if a := c[v1.ConditionAccepted]; a.Status != metav1.ConditionFalse || a.Reason != ReasonInvalid || !strings.HasPrefix(a.Message, want) ||
		!strings.Contains(a.Message, "unique within a mesh") {
		t.Errorf("Accepted = %+v, want False/Invalid starting %q", a, want)
	}
	if r := c[v1.ConditionReady]; r.Status != metav1.ConditionFalse || !strings.Contains(r.Message, "not served: "+want) {
		t.Errorf("Ready = %+v, want False, not served, saying why", r)
	}
}
