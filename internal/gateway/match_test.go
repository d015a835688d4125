package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// routeSpec is one VirtualRouter httpRoute that sends to a node (and
// upstream) of the same name.
type routeSpec struct {
	name     string
	priority int // -1: none
	match    string
}

// TestRouterMatch proves that every httpRoute match kind selects the right
// route on the mesh listener: each route has its own upstream, and the
// answer's X-Upstream names the route that served.
func TestRouterMatch(t *testing.T) {
	routes := []routeSpec{
		{"prio-low", 5, `{prefix: /prio/}`},
		{"prio-high", 1, `{prefix: /prio/}`},
		{"prefix", -1, `{prefix: /prefix/}`},
		{"exact", -1, `{path: {exact: /exact}}`},
		{"regex", -1, `{path: {regex: "/regex/[0-9]+"}}`},
		{"hdr-exact", -1, `{prefix: /h/, headers: [{name: x-h, match: {exact: a}}]}`},
		{"hdr-prefix", -1, `{prefix: /h/, headers: [{name: X-H, match: {prefix: pre-}}]}`},
		{"hdr-suffix", -1, `{prefix: /h/, headers: [{name: x-h, match: {suffix: -suf}}]}`},
		{"hdr-regex", -1, `{prefix: /h/, headers: [{name: x-h, match: {regex: "re[0-9]+"}}]}`},
		{"hdr-range", -1, `{prefix: /h/, headers: [{name: x-num, match: {range: {start: 10, end: 20}}}]}`},
		{"h-any", -1, `{prefix: /h/}`},
		{"hdr-invert", -1, `{prefix: /inv/, headers: [{name: x-block, invert: true}]}`},
		{"hdr-invert-value", -1, `{prefix: /inv/, headers: [{name: x-block, match: {exact: "no"}, invert: true}]}`},
		{"inv-other", -1, `{prefix: /inv/}`},
		{"method-put", -1, `{prefix: /m/, method: PUT}`},
		{"method-any", -1, `{prefix: /m/}`},
		{"query", -1, `{prefix: /q/, queryParameters: [{name: v, match: {exact: "2"}}, {name: flag}]}`},
		{"q-any", -1, `{prefix: /q/}`},
		{"scheme-https", -1, `{prefix: /s/, scheme: https}`},
		{"scheme-http", -1, `{prefix: /s/, scheme: http}`},
		{"port-8081", -1, `{prefix: /p/, port: 8081}`},
		{"p-any", -1, `{prefix: /p/}`},
		{"model-exact", -1, `{prefix: /v1/, method: POST, model: {exact: llama}}`},
		{"model-prefix", -1, `{prefix: /v1/, method: POST, model: {prefix: mistral-}}`},
		{"model-regex", -1, `{prefix: /v1/, method: POST, model: {regex: "qwen-[0-9]+b"}}`},
	}
	ups := map[string]*upstream{}
	var cfg, rs strings.Builder
	cfg.WriteString(meshDoc("DROP_ALL"))
	for _, r := range routes {
		ups[r.name] = newUpstream(t, r.name, nil)
		cfg.WriteString(upNode(r.name, ups[r.name]))
		fmt.Fprintf(&rs, "- name: %s\n", r.name)
		if r.priority >= 0 {
			fmt.Fprintf(&rs, "  priority: %d\n", r.priority)
		}
		// With two router listeners App Mesh requires match.port.
		m := r.match
		if !strings.Contains(m, "port:") {
			m = "{port: 8080, " + m[1:]
		}
		fmt.Fprintf(&rs, "  httpRoute:\n    match: %s\n    action: {weightedTargets: %s}\n", m, weighted(r.name, 1))
	}
	cfg.WriteString(vsRouter("match.local", "match-router"))
	cfg.WriteString(routerDoc("match-router", []string{"8080/http", "8081/http"}, rs.String()))
	g := startGW(t, cfg.String(), gateway.Options{})
	c := client(t)

	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		method string
		path   string
		port   string // router listener port in Host
		header http.Header
		body   []byte
		want   string // upstream, or "404:code"
	}{
		{"prefix", "GET", "/prefix/a/b", "", nil, nil, "prefix"},
		{"prefix needs its trailing slash", "GET", "/prefix", "", nil, nil, "404:route_not_found"},
		{"prefix, escapes forwarded as sent", "GET", "/prefix/a%2Fb%3F", "", nil, nil, "prefix"},
		{"path exact", "GET", "/exact", "", nil, nil, "exact"},
		{"path exact is whole path", "GET", "/exact/more", "", nil, nil, "404:route_not_found"},
		{"path regex", "GET", "/regex/123", "", nil, nil, "regex"},
		{"path regex is anchored", "GET", "/regex/12a", "", nil, nil, "404:route_not_found"},
		{"header exact", "GET", "/h/", "", h("X-H", "a"), nil, "hdr-exact"},
		{"header prefix, name case-insensitive", "GET", "/h/", "", h("x-h", "pre-1"), nil, "hdr-prefix"},
		{"header suffix", "GET", "/h/", "", h("X-H", "1-suf"), nil, "hdr-suffix"},
		{"header regex", "GET", "/h/", "", h("X-H", "re42"), nil, "hdr-regex"},
		{"header regex is anchored", "GET", "/h/", "", h("X-H", "re42x"), nil, "h-any"},
		{"header range start inclusive", "GET", "/h/", "", h("X-Num", "10"), nil, "hdr-range"},
		{"header range end exclusive", "GET", "/h/", "", h("X-Num", "20"), nil, "h-any"},
		{"header range not a number", "GET", "/h/", "", h("X-Num", "1x"), nil, "h-any"},
		{"invert: absent header matches", "GET", "/inv/", "", nil, nil, "hdr-invert"},
		{"invert value: another value matches", "GET", "/inv/", "", h("X-Block", "yes"), nil, "hdr-invert-value"},
		{"invert: present header, matching value", "GET", "/inv/", "", h("X-Block", "no"), nil, "inv-other"},
		{"method", "PUT", "/m/x", "", nil, []byte("{}"), "method-put"},
		{"method other", "GET", "/m/x", "", nil, nil, "method-any"},
		{"query exact and presence", "GET", "/q/?v=2&flag", "", nil, nil, "query"},
		{"query form-decoded", "GET", "/q/?flag=&v=%32", "", nil, nil, "query"},
		{"query wrong value", "GET", "/q/?v=3&flag", "", nil, nil, "q-any"},
		{"query missing parameter", "GET", "/q/?v=2", "", nil, nil, "q-any"},
		{"scheme http (https route skipped)", "GET", "/s/", "", nil, nil, "scheme-http"},
		{"port 8081", "GET", "/p/", "8081", nil, nil, "port-8081"},
		{"port 8080", "GET", "/p/", "8080", nil, nil, "p-any"},
		{"no port: first listener", "GET", "/p/", "", nil, nil, "p-any"},
		{"priority 1 before priority 5", "GET", "/prio/", "", nil, nil, "prio-high"},
		{"model exact", "POST", "/v1/chat/completions", "", nil, chatBody("llama"), "model-exact"},
		{"model prefix", "POST", "/v1/chat/completions", "", nil, chatBody("mistral-7b"), "model-prefix"},
		{"model regex", "POST", "/v1/completions", "", nil, chatBody("qwen-72b"), "model-regex"},
		{"model regex is anchored", "POST", "/v1/completions", "", nil, chatBody("qwen-72bx"), "404:model_not_found"},
		{"model not matching other conditions", "GET", "/v1/models", "", nil, nil, "404:route_not_found"},
		{"no route", "GET", "/nothing", "", nil, nil, "404:route_not_found"},
		{"unknown router port", "GET", "/prefix/", "9999", nil, nil, "404:route_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := "match.local"
			if tc.port != "" {
				host += ":" + tc.port
			}
			r := call(t, c, tc.method, g.mesh+tc.path, host, tc.header, tc.body)
			if code, ok := strings.CutPrefix(tc.want, "404:"); ok {
				wantError(t, r, http.StatusNotFound, code)
				return
			}
			if r.code != 200 || r.header.Get("X-Upstream") != tc.want {
				t.Fatalf("got %d from %q, want 200 from %q; body %s", r.code, r.header.Get("X-Upstream"), tc.want, r.body)
			}
			seen := ups[tc.want].last(t)
			if seen.Method != tc.method || !bytes.Equal(seen.Body, tc.body) && tc.body != nil {
				t.Errorf("upstream saw %s with body %q, want %s with %q", seen.Method, seen.Body, tc.method, tc.body)
			}
			if path, _, _ := strings.Cut(tc.path, "?"); seen.Path != path {
				t.Errorf("upstream path %q, want %q", seen.Path, path)
			}
		})
	}
}

// TestGatewayRouteMatchAndRewrite proves GatewayRoute matching (hostname
// exact and suffix, prefix, path, headers, method, query) and rewrites on
// a VirtualGateway listener: the prefix rewrite defaults to replacing the
// matched prefix with "/", a prefix value replaces it, defaultPrefix
// DISABLED keeps it, a path rewrite replaces the path, and Host becomes
// the VirtualService name unless defaultTargetHostname is DISABLED.
func TestGatewayRouteMatchAndRewrite(t *testing.T) {
	port := freePort(t)
	names := []string{"host-exact", "host-suffix", "prefix", "path", "headers", "method", "query", "rw"}
	ups := map[string]*upstream{}
	cfg := meshDoc("DROP_ALL") + gatewayDoc("gw", port, "http", "")
	for _, n := range names {
		ups[n] = newUpstream(t, n, nil)
		cfg += backend(n, ups[n])
	}
	grs := []struct{ name, spec string }{
		{"host-exact", `{prefix: /, hostname: {exact: api.example.com}}`},
		{"host-suffix", `{prefix: /, hostname: {suffix: .example.org}}`},
		{"prefix", `{prefix: /pre/}`},
		{"path", `{path: {exact: /only}}`},
		{"headers", `{prefix: /hdr/, headers: [{name: x-gw, match: {exact: "1"}}]}`},
		{"method", `{prefix: /meth/, method: DELETE}`},
		{"query", `{prefix: /qry/, queryParameters: [{name: q, match: {exact: "yes please"}}]}`},
	}
	for i, gr := range grs {
		cfg += gatewayRouteDoc(gr.name, "gw", fmt.Sprintf(`priority: %d
httpRoute:
  match: %s
  action: {target: {virtualService: {virtualServiceName: %s.local}}}`, i, gr.spec, gr.name))
	}
	rewrites := []struct{ name, match, rewrite string }{
		{"rw-default", `{prefix: /def/}`, ``},
		{"rw-value", `{prefix: /val/}`, `{prefix: {value: /v1/}}`},
		{"rw-disabled", `{prefix: /keep/}`, `{prefix: {defaultPrefix: DISABLED}}`},
		{"rw-path", `{path: {exact: /p-old}}`, `{path: {exact: /p-new}}`},
		{"rw-hostkeep", `{prefix: /hostkeep/}`, `{hostname: {defaultTargetHostname: DISABLED}}`},
		{"rw-hostenabled", `{prefix: /hostset/}`, `{hostname: {defaultTargetHostname: ENABLED}}`},
	}
	for i, rw := range rewrites {
		action := `{target: {virtualService: {virtualServiceName: rw.local}}}`
		if rw.rewrite != "" {
			action = `{target: {virtualService: {virtualServiceName: rw.local}}, rewrite: ` + rw.rewrite + `}`
		}
		cfg += gatewayRouteDoc(rw.name, "gw", fmt.Sprintf("priority: %d\nhttpRoute:\n  match: %s\n  action: %s", 100+i, rw.match, action))
	}
	g := startGW(t, cfg, gateway.Options{})
	base := g.gatewayURL(t, port)
	c := client(t)

	tests := []struct {
		name, method, path, host string
		header                   http.Header
		want                     string // upstream, or "404"
		wantPath, wantHost       string // checked when set
	}{
		{"hostname exact (port ignored)", "GET", "/x", "api.example.com:8080", nil, "host-exact", "", ""},
		{"hostname exact is case-insensitive", "GET", "/x", "API.Example.com", nil, "host-exact", "", ""},
		{"hostname suffix", "GET", "/x", "eu.example.org", nil, "host-suffix", "", ""},
		{"hostname suffix needs the dot", "GET", "/x", "example.org", nil, "404", "", ""},
		{"prefix", "GET", "/pre/a", "other.test", nil, "prefix", "/a", "prefix.local"},
		{"path exact", "GET", "/only", "other.test", nil, "path", "/only", ""},
		{"path exact is whole path", "GET", "/only/x", "other.test", nil, "404", "", ""},
		{"header", "GET", "/hdr/", "other.test", http.Header{"X-Gw": {"1"}}, "headers", "", ""},
		{"header missing", "GET", "/hdr/", "other.test", nil, "404", "", ""},
		{"method", "DELETE", "/meth/", "other.test", nil, "method", "", ""},
		{"method other", "GET", "/meth/", "other.test", nil, "404", "", ""},
		{"query", "GET", "/qry/?q=yes+please", "other.test", nil, "query", "", ""},
		{"query other value", "GET", "/qry/?q=no", "other.test", nil, "404", "", ""},
		{"rewrite default: prefix to /", "GET", "/def/chat/x?a=1", "client.example", nil, "rw", "/chat/x", "rw.local"},
		{"rewrite default at the prefix itself", "GET", "/def/", "client.example", nil, "rw", "/", "rw.local"},
		{"rewrite keeps escapes", "GET", "/def/a%2Fb%20c", "client.example", nil, "rw", "/a%2Fb%20c", "rw.local"},
		{"prefix value keeps escapes", "GET", "/val/m%2Fx", "client.example", nil, "rw", "/v1/m%2Fx", "rw.local"},
		{"no rewrite keeps escapes", "GET", "/keep/a%2Fb", "client.example", nil, "rw", "/keep/a%2Fb", "rw.local"},
		{"rewrite prefix value", "GET", "/val/chat", "client.example", nil, "rw", "/v1/chat", "rw.local"},
		{"rewrite defaultPrefix DISABLED", "GET", "/keep/a/b", "client.example", nil, "rw", "/keep/a/b", "rw.local"},
		{"rewrite path exact", "GET", "/p-old", "client.example", nil, "rw", "/p-new", "rw.local"},
		{"hostname rewrite DISABLED keeps Host", "GET", "/hostkeep/a", "client.example:8443", nil, "rw", "/a", "client.example:8443"},
		{"hostname rewrite ENABLED", "GET", "/hostset/a", "client.example", nil, "rw", "/a", "rw.local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, c, tc.method, base+tc.path, tc.host, tc.header, nil)
			if tc.want == "404" {
				wantError(t, r, http.StatusNotFound, "route_not_found")
				return
			}
			if r.code != 200 || r.header.Get("X-Upstream") != tc.want {
				t.Fatalf("got %d from %q, want 200 from %q; body %s", r.code, r.header.Get("X-Upstream"), tc.want, r.body)
			}
			seen := ups[tc.want].last(t)
			if tc.wantPath != "" && seen.Path != tc.wantPath {
				t.Errorf("upstream path %q, want %q", seen.Path, tc.wantPath)
			}
			if tc.wantHost != "" && seen.Host != tc.wantHost {
				t.Errorf("upstream Host %q, want %q", seen.Host, tc.wantHost)
			}
			if _, q, ok := strings.Cut(tc.path, "?"); ok && seen.RawQuery != q {
				t.Errorf("upstream query %q, want %q", seen.RawQuery, q)
			}
		})
	}
}
