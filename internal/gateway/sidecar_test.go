package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// sidecarConfig: node app may call allowed.local only; other.local exists
// too.
func sidecarConfig(egress string, allowed, other *upstream) string {
	return meshDoc(egress) + backend("allowed", allowed) + backend("other", other) + `
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: app}
spec:
  backends:
    - virtualService: {virtualServiceName: allowed.local}
`
}

// TestSidecarAndEgress proves sidecar mode (Options.Node): a
// VirtualService that is not a backend of the node gets 403; with
// egressFilter ALLOW_ALL a host outside the mesh (an upstream on
// 127.0.0.1) is reached, by Host header, as an HTTP proxy, and through a
// CONNECT tunnel; with DROP_ALL it gets 403.
func TestSidecarAndEgress(t *testing.T) {
	allowed, other := newUpstream(t, "allowed", nil), newUpstream(t, "other", nil)
	outside := newUpstream(t, "outside", nil)
	tlsOutside := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	t.Cleanup(tlsOutside.Close)

	for _, tc := range []struct {
		egress string
		node   string
	}{
		{"ALLOW_ALL", "app"},
		{"DROP_ALL", "app"},
		{"DROP_ALL", ""},
	} {
		t.Run(tc.egress+"/node="+tc.node, func(t *testing.T) {
			g := startGW(t, sidecarConfig(tc.egress, allowed, other), gateway.Options{Node: tc.node})
			c := client(t)

			r := call(t, c, "GET", g.mesh+"/v1/models", "allowed.local", nil, nil)
			if r.code != 200 || r.header.Get("X-Upstream") != "allowed" {
				t.Fatalf("backend: %d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
			}
			r = call(t, c, "GET", g.mesh+"/v1/models", "other.local", nil, nil)
			if tc.node != "" {
				wantError(t, r, http.StatusForbidden, "backend_not_allowed")
			} else if r.code != 200 || r.header.Get("X-Upstream") != "other" {
				t.Fatalf("without --node every service may be called: %d from %q", r.code, r.header.Get("X-Upstream"))
			}

			// Egress by Host header.
			outside.reset()
			r = call(t, c, "GET", g.mesh+"/ext?q=1", outside.addr(), nil, nil)
			if tc.egress == "DROP_ALL" {
				wantError(t, r, http.StatusForbidden, "egress_denied")
				if outside.hits.Load() != 0 {
					t.Fatal("DROP_ALL: the outside host was called")
				}
			} else {
				if r.code != 200 || r.header.Get("X-Upstream") != "outside" {
					t.Fatalf("egress: %d from %q: %s", r.code, r.header.Get("X-Upstream"), r.body)
				}
				if s := outside.last(t); s.Path != "/ext" || s.RawQuery != "q=1" || s.Host != outside.addr() {
					t.Errorf("outside saw %s %s?%s", s.Host, s.Path, s.RawQuery)
				}
			}

			// Egress with the mesh listener as the HTTP proxy.
			proxyURL, _ := url.Parse(g.mesh)
			tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
			defer tr.CloseIdleConnections()
			pc := &http.Client{Transport: tr}
			resp, err := pc.Get(outside.srv.URL + "/via-proxy")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.egress == "DROP_ALL" {
				wantError(t, reply{resp.StatusCode, resp.Header, b}, http.StatusForbidden, "egress_denied")
			} else if resp.StatusCode != 200 || outside.last(t).Path != "/via-proxy" {
				t.Fatalf("proxy egress: %d %s", resp.StatusCode, b)
			}

			// HTTPS egress through a CONNECT tunnel.
			ttr := tlsOutside.Client().Transport.(*http.Transport).Clone()
			ttr.Proxy = http.ProxyURL(proxyURL)
			defer ttr.CloseIdleConnections()
			resp, err = (&http.Client{Transport: ttr}).Get(tlsOutside.URL + "/tunnel")
			if tc.egress == "DROP_ALL" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("DROP_ALL: CONNECT tunnel answered %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("CONNECT tunnel: %v", err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "secret" {
				t.Fatalf("through the tunnel: %q", b)
			}
		})
	}
}
