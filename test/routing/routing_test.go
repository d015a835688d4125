// Package routing_test checks endpoint picking end to end: a gateway in
// front of simulated model servers, with real scrapes, real timing and
// injected faults.
package routing_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/sim"
)

const meshYAML = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: llm.local}
spec: {provider: {virtualNode: {virtualNodeName: vllm}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: vllm}
spec:
  listeners:
    - portMapping: {port: 8000, protocol: http}
      outlierDetection:
        maxServerErrors: 3
        interval: {value: 1, unit: s}
        baseEjectionDuration: {value: 1, unit: s}
        maxEjectionPercent: 50
  serviceDiscovery: {static: {endpoints: %s}}
  loadBalancing: {policy: inference}
  modelServer: {engine: vllm, scrapeInterval: {value: 50, unit: ms}}
`

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
}

// TestTrafficMovesAwayFromSlowAndFailingEndpoints: of three servers, one
// turns slow (every request holds its batch slot 1s before the first token)
// and one fails (every request gets 500). Within a second both lose their
// traffic: the slow one through its growing queue and aimesh's in-flight
// counts (inference policy), the failing one through outlier detection
// (3 errors eject it). When the faults clear, both get traffic again once
// their queue drains and the ejection (1s, then 2s) ends.
func TestTrafficMovesAwayFromSlowAndFailingEndpoints(t *testing.T) {
	c := cluster(t, 3, func(i int, cfg *sim.Config) {
		cfg.MaxNumSeqs = 4
		cfg.DefaultMaxTokens = 4
	})
	base := startGateway(t, fmt.Sprintf(meshYAML, staticEndpoints(c)))
	hc := client()
	start := time.Now()
	l := startLoad(t, 6, 20000, func(n int) answer {
		return send(hc, base, "llm.local", nil, chat(fmt.Sprintf("question %d", n), 4))
	})

	time.Sleep(1500 * time.Millisecond)
	sh, n := l.share(start.Add(500 * time.Millisecond))
	t.Logf("healthy: %d requests, shares %v", n, sh)
	for _, s := range []string{"s0", "s1", "s2"} {
		if sh[s] < 0.15 {
			t.Fatalf("healthy phase: %s got %.0f%% of %d requests, want a fair share", s, 100*sh[s], n)
		}
	}

	faultAt := time.Now()
	if err := c.Servers[1].SetFaults(sim.Faults{SlowStart: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := c.Servers[2].SetFaults(sim.Faults{ErrorRate: 1, ErrorStatus: 500}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	sh, n = l.share(faultAt.Add(time.Second))
	t.Logf("faults, from 1s after injection: %d requests, shares %v", n, sh)
	if n < 50 {
		t.Fatalf("only %d requests in the fault phase", n)
	}
	if sh["s1"] > 0.10 || sh["s2"] > 0.05 || sh["s0"] < 0.85 {
		t.Fatalf("with s1 slow and s2 failing, shares are %v; want s1 <= 10%%, s2 <= 5%%", sh)
	}

	c.Servers[1].ClearFaults()
	c.Servers[2].ClearFaults()
	recoverAt := time.Now()
	deadline := recoverAt.Add(10 * time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		sh, n = l.share(time.Now().Add(-time.Second))
		if sh["s1"] >= 0.15 && sh["s2"] >= 0.15 && n >= 20 {
			t.Logf("recovered after %v: last second %d requests, shares %v", time.Since(recoverAt).Round(10*time.Millisecond), n, sh)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the faults cleared, the last second's shares are %v (%d requests)", sh, n)
		}
	}
	l.close()
	failed := 0
	for _, a := range l.answers {
		if a.code != 200 && a.server != "s2" {
			failed++
			t.Logf("unexpected answer %d from %q: %s", a.code, a.server, a.body)
		}
	}
	if failed > 0 {
		t.Fatalf("%d requests failed that the failing server did not answer", failed)
	}
}

// TestShedsSheddableRequestsWhenSaturated: with every server's queue past
// the threshold, a request marked sheddable (route or header) gets 429
// with Retry-After at once, while standard ones still queue and succeed.
func TestShedsSheddableRequestsWhenSaturated(t *testing.T) {
	c := cluster(t, 2, func(i int, cfg *sim.Config) {
		cfg.MaxNumSeqs = 1
		cfg.DefaultMaxTokens = 2
	})
	yaml := fmt.Sprintf(`
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
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
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  routes:
    - name: batch
      priority: 0
      httpRoute:
        match: {prefix: /, headers: [{name: x-tier, match: {exact: batch}}]}
        criticality: Sheddable
        action: {weightedTargets: [{virtualNode: vllm, weight: 1}]}
    - name: interactive
      priority: 1
      httpRoute:
        match: {prefix: /}
        action: {weightedTargets: [{virtualNode: vllm, weight: 1}]}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: vllm}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {static: {endpoints: %s}}
  loadBalancing: {policy: inference, inference: {queueDepthThreshold: 2}}
  modelServer: {engine: vllm, scrapeInterval: {value: 20, unit: ms}}
`, staticEndpoints(c))
	base := startGateway(t, yaml)
	hc := client()

	// Idle: a sheddable request is served.
	if a := send(hc, base, "llm.local", http.Header{"X-Tier": {"batch"}}, chat("hi", 2)); a.code != 200 {
		t.Fatalf("idle sheddable request: %d %s", a.code, a.body)
	}
	// Saturate: each server runs one slow request, the rest queue.
	for _, s := range c.Servers {
		s.SetFaults(sim.Faults{SlowStart: time.Second})
	}
	l := startLoad(t, 8, 8, func(n int) answer {
		return send(hc, base, "llm.local", nil, chat(fmt.Sprintf("standard %d", n), 2))
	})
	waitFor(t, "every server's queue past the threshold", func() bool {
		for _, s := range c.Servers {
			if s.Stats().Waiting < 2 {
				return false
			}
		}
		return true
	})
	time.Sleep(60 * time.Millisecond) // a scrape or two

	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"route criticality", http.Header{"X-Tier": {"batch"}}},
		{"header criticality", http.Header{"X-Aimesh-Criticality": {"sheddable"}}},
	} {
		began := time.Now()
		a := send(hc, base, "llm.local", tc.hdr, chat("shed me", 2))
		took := time.Since(began)
		if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" ||
			!strings.Contains(string(a.body), `"code":"overloaded"`) || a.server != "" {
			t.Fatalf("%s: got %d %q (Retry-After %q) from %q; want an aimesh 429 overloaded", tc.name, a.code, a.body, a.header.Get("Retry-After"), a.server)
		}
		if took > time.Second {
			t.Fatalf("%s: the 429 took %v; shedding must not queue", tc.name, took)
		}
	}
	// A critical request overriding a sheddable route is forwarded.
	crit := make(chan answer, 1)
	go func() {
		crit <- send(hc, base, "llm.local", http.Header{"X-Tier": {"batch"}, "X-Aimesh-Criticality": {"Critical"}}, chat("keep me", 2))
	}()
	for _, s := range c.Servers {
		s.ClearFaults()
	}
	if a := <-crit; a.code != 200 {
		t.Fatalf("critical request: %d %s", a.code, a.body)
	}
	l.close()
	for _, a := range l.answers {
		if a.code != 200 {
			t.Fatalf("a standard request was not served: %d %s", a.code, a.body)
		}
	}
}

// TestNodeWithoutAvailableEndpointAnswers503OrFallback: once outlier
// detection ejected the only endpoint, requests get 503 at once, or the
// route's fallback node serves them.
func TestNodeWithoutAvailableEndpointAnswers503OrFallback(t *testing.T) {
	c := cluster(t, 2, func(i int, cfg *sim.Config) { cfg.DefaultMaxTokens = 1 })
	c.Servers[0].SetFaults(sim.Faults{ErrorRate: 1, ErrorStatus: 503})
	host0, port0, _ := strings.Cut(c.Servers[0].Addr, ":")
	host1, port1, _ := strings.Cut(c.Servers[1].Addr, ":")
	node := func(name, host, port string) string {
		return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: %s}
spec:
  listeners:
    - portMapping: {port: 8000, protocol: http}
      outlierDetection:
        maxServerErrors: 1
        interval: {value: 10, unit: s}
        baseEjectionDuration: {value: 30, unit: s}
        maxEjectionPercent: 100
  serviceDiscovery: {static: {endpoints: [{address: %s, port: %s}]}}
`, name, host, port)
	}
	yaml := `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: direct.local}
spec: {provider: {virtualNode: {virtualNodeName: primary}}}
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
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  routes:
    - name: main
      httpRoute:
        match: {prefix: /}
        action:
          weightedTargets: [{virtualNode: primary, weight: 1}]
          fallback: [{virtualNode: backup}]
` + node("primary", host0, port0) + node("backup", host1, port1)
	base := startGateway(t, yaml)
	hc := client()
	if a := send(hc, base, "direct.local", nil, chat("x", 1)); a.code != 503 || a.server != "s0" {
		t.Fatalf("first request: %d from %q, want the server's own 503", a.code, a.server)
	}
	began := time.Now()
	a := send(hc, base, "direct.local", nil, chat("x", 1))
	if a.code != 503 || a.server != "" || !strings.Contains(string(a.body), "no_healthy_upstream") {
		t.Fatalf("after ejection: %d from %q: %s; want aimesh's 503 no_healthy_upstream", a.code, a.server, a.body)
	}
	if took := time.Since(began); took > 200*time.Millisecond {
		t.Fatalf("503 took %v", took)
	}
	if a := send(hc, base, "llm.local", nil, chat("x", 1)); a.code != 200 || a.server != "s1" {
		t.Fatalf("with a fallback: %d from %q: %s; want the backup's answer", a.code, a.server, a.body)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
