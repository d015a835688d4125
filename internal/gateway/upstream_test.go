package gateway_test

import (
	"fmt"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// TestUpstreamConnections proves pooled keep-alive connections to the
// upstreams (200 sequential requests, GETs and POSTs read for their model,
// open about one connection) and DNS service discovery with hostname
// localhost.
func TestUpstreamConnections(t *testing.T) {
	pooled := newUpstream(t, "pooled", nil)
	dns := newUpstream(t, "dns", nil)
	cfg := meshDoc("DROP_ALL") + backend("pooled", pooled) + fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: dns}
spec:
  listeners:
    - portMapping: {port: %d, protocol: http}
  serviceDiscovery:
    dns: {hostname: localhost}
`, dns.port()) + vsRouter("dns.local", "dns-router") + routerDoc("dns-router", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/, model: {exact: llama}}
    action: {weightedTargets: [{virtualNode: dns, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c := client(t)

	t.Run("keep-alive pool", func(t *testing.T) {
		const n = 200
		for i := 0; i < n; i++ {
			method, body := "GET", []byte(nil)
			if i%2 == 1 {
				method, body = "POST", chatBody("llama")
			}
			if r := call(t, c, method, g.mesh+"/v1/x", "pooled.local", nil, body); r.code != 200 {
				t.Fatalf("request %d: %d %s", i, r.code, r.body)
			}
		}
		if got := pooled.hits.Load(); got != n {
			t.Fatalf("upstream got %d requests, want %d", got, n)
		}
		if conns := pooled.newConns.Load(); conns > 2 {
			t.Errorf("%d sequential requests opened %d upstream connections, want 1 (2 at most)", n, conns)
		} else {
			t.Logf("%d requests over %d upstream connection(s)", n, conns)
		}
	})

	t.Run("dns localhost", func(t *testing.T) {
		r := call(t, c, "POST", g.mesh+"/v1/chat/completions", "dns.local", nil, chatBody("llama"))
		if r.code != 200 || r.header.Get("X-Upstream") != "dns" {
			t.Fatalf("%d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
		}
	})
}
