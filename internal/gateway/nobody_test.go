package gateway_test

import (
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// A request without a body that reaches a model route is not a JSON error:
// it has no model, so the model route does not match and the next route
// serves it.
func TestBodilessRequestSkipsModelRoutes(t *testing.T) {
	llm, other := newUpstream(t, "llm", nil), newUpstream(t, "other", nil)
	cfg := meshDoc("ALLOW_ALL") + backend("llm", llm) + upNode("other", other) + vsRouter("api.local", "r") +
		routerDoc("r", []string{"80/http"}, `
- name: by-model
  priority: 0
  httpRoute:
    match: {prefix: /v1/, model: {exact: m}}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
- name: rest
  priority: 1
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: [{virtualNode: other, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	if r := call(t, client(t), "GET", g.mesh+"/v1/models", "api.local", nil, nil); r.code != 200 || r.header.Get("X-Upstream") != "other" {
		t.Fatalf("GET without a body: %d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
	}
	if r := call(t, client(t), "POST", g.mesh+"/v1/chat/completions", "api.local", nil, chatBody("m")); r.code != 200 || r.header.Get("X-Upstream") != "llm" {
		t.Fatalf("POST for model m: %d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
	}
}
