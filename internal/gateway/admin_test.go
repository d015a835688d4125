package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
)

// logLines waits until path has at least n lines and returns them.
func logLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	eventually(t, 5*time.Second, fmt.Sprintf("%d lines in %s", n, path), func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			lines = nil
		}
		return len(lines) >= n
	})
	return lines
}

// TestAccessLogsAndAdmin proves logging.accessLog: one line per request in
// a file, with the right fields, in a JSON format (VirtualGateway), a text
// format (another VirtualGateway) and Envoy's default format (the sidecar
// node); and the admin listener: /healthz, /readyz, /config (YAML of the
// served resources, which decodes strictly again) and /metrics with
// aimesh_requests_total by virtual_service, route, virtual_node and code.
func TestAccessLogsAndAdmin(t *testing.T) {
	dir := t.TempDir()
	jsonLog, textLog, nodeLog := filepath.Join(dir, "gw.json"), filepath.Join(dir, "gw.txt"), filepath.Join(dir, "node.log")
	pj, pt := freePort(t), freePort(t)
	llm := newUpstream(t, "llm", nil)
	cfg := meshDoc("DROP_ALL") + upNode("llm", llm) + vsRouter("chat.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/chat/, method: POST, model: {prefix: llama}}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
- name: completions
  httpRoute:
    match: {prefix: /v1/completions, method: POST, model: {prefix: llama}}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
- name: upload
  httpRoute:
    match: {prefix: /v1/files}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
`) + gatewayDoc("gw-json", pj, "http", fmt.Sprintf(`
accessLog:
  file:
    path: %s
    format:
      json:
        - {key: method, value: "%%REQ(:METHOD)%%"}
        - {key: path, value: "%%REQ(:PATH)%%"}
        - {key: code, value: "%%RESPONSE_CODE%%"}
        - {key: flags, value: "%%RESPONSE_FLAGS%%"}
        - {key: upstream, value: "%%UPSTREAM_HOST%%"}
        - {key: node, value: "%%UPSTREAM_CLUSTER%%"}
        - {key: route, value: "%%ROUTE_NAME%%"}
        - {key: service, value: "%%AIMESH_VIRTUAL_SERVICE%%"}
        - {key: model, value: "%%AIMESH_MODEL%%"}
        - {key: received, value: "%%BYTES_RECEIVED%%"}
        - {key: request_id, value: "%%REQ(X-REQUEST-ID)%%"}
`, jsonLog)) + gatewayDoc("gw-text", pt, "http", fmt.Sprintf(`
accessLog:
  file:
    path: %s
    format:
      text: "%%REQ(:METHOD)%% %%REQ(:PATH)%% %%RESPONSE_CODE%% %%ROUTE_NAME%% %%UPSTREAM_HOST%% %%AIMESH_MODEL%%\n"
`, textLog)) + fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: app}
spec:
  backends:
    - virtualService: {virtualServiceName: chat.local}
  logging:
    accessLog:
      file: {path: %s}
`, nodeLog)
	for _, gw := range []string{"gw-json", "gw-text"} {
		cfg += gatewayRouteDoc(gw+"-all", gw, `
httpRoute:
  match: {prefix: /v1/}
  action:
    target: {virtualService: {virtualServiceName: chat.local}}
    rewrite: {prefix: {defaultPrefix: DISABLED}}`)
	}
	g := startGW(t, cfg, gateway.Options{Node: "app"})
	c := client(t)
	body := chatBody("llama-3")

	t.Run("json access log", func(t *testing.T) {
		base := g.gatewayURL(t, pj)
		for i := 0; i < 2; i++ {
			r := call(t, c, "POST", base+"/v1/chat/completions?i="+strconv.Itoa(i), "chat.example", http.Header{"X-Request-Id": {"req-" + strconv.Itoa(i)}}, body)
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
		}
		wantError(t, call(t, c, "GET", base+"/nope", "chat.example", nil, nil), 404, "route_not_found")
		// A streamed body of unknown length (not read for a model).
		upload := bytes.Repeat([]byte("x"), 10000)
		req, _ := http.NewRequest("POST", base+"/v1/files", hideLength{bytes.NewReader(upload)})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lines := logLines(t, jsonLog, 4)
		if len(lines) != 4 {
			t.Fatalf("%d lines for 4 requests:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		for i, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %d is not JSON: %v: %s", i, err, l)
			}
			want := map[string]string{
				"method": "POST", "path": "/v1/chat/completions?i=" + strconv.Itoa(i), "code": "200", "flags": "-",
				"upstream": llm.addr(), "node": "llm", "route": "chat", "service": "chat.local", "model": "llama-3",
				"received": strconv.Itoa(len(body)), "request_id": "req-" + strconv.Itoa(i),
			}
			switch i {
			case 2:
				want = map[string]string{"method": "GET", "path": "/nope", "code": "404", "flags": "NR"}
			case 3:
				want = map[string]string{"method": "POST", "path": "/v1/files", "code": "200", "route": "upload",
					"received": strconv.Itoa(len(upload)), "model": "<nil>"}
			}
			for k, v := range want {
				if got := fmt.Sprint(e[k]); got != v {
					t.Errorf("line %d: %s = %q, want %q\n%s", i, k, got, v, l)
				}
			}
		}
	})

	t.Run("text access log", func(t *testing.T) {
		base := g.gatewayURL(t, pt)
		for i := 0; i < 2; i++ {
			if r := call(t, c, "POST", base+"/v1/completions", "chat.example", nil, body); r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
		}
		lines := logLines(t, textLog, 2)
		want := "POST /v1/completions 200 completions " + llm.addr() + " llama-3"
		if len(lines) != 2 || lines[0] != want || lines[1] != want {
			t.Fatalf("text log:\n%s\nwant twice:\n%s", strings.Join(lines, "\n"), want)
		}
	})

	t.Run("default format, sidecar node", func(t *testing.T) {
		if r := call(t, c, "POST", g.mesh+"/v1/chat/completions", "chat.local", nil, body); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		lines := logLines(t, nodeLog, 1)
		if len(lines) != 1 || !strings.Contains(lines[0], `"POST /v1/chat/completions HTTP/1.1" 200 - `+strconv.Itoa(len(body))) ||
			!strings.Contains(lines[0], `"chat.local" "`+llm.addr()+`"`) {
			t.Fatalf("default-format line: %q", lines)
		}
	})

	t.Run("admin", func(t *testing.T) {
		get := func(path string) (int, http.Header, string) {
			resp, err := http.Get(g.admin + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, string(b)
		}
		if code, _, b := get("/healthz"); code != 200 || b != "ok\n" {
			t.Errorf("/healthz: %d %q", code, b)
		}
		if code, _, b := get("/readyz"); code != 200 || b != "ok generation 1\n" {
			t.Errorf("/readyz: %d %q", code, b)
		}
		code, h, b := get("/config")
		if code != 200 || h.Get("X-Aimesh-Generation") != "1" || !strings.HasPrefix(h.Get("Content-Type"), "application/yaml") {
			t.Fatalf("/config: %d %v", code, h)
		}
		res, errs := config.Decode("config.yaml", []byte(b))
		if len(errs) > 0 {
			t.Fatalf("/config does not decode strictly: %v\n%s", errs, b)
		}
		if want := parseConfig(t, cfg, false); res.Len() != want.Len() {
			t.Errorf("/config has %d resources, want %d", res.Len(), want.Len())
		}
		if !strings.Contains(b, "virtualServiceName: chat.local") || !strings.Contains(b, "path: "+jsonLog) {
			t.Errorf("/config lacks the served resources:\n%s", b)
		}
		page := g.scrape(t)
		for _, m := range []struct {
			labels []string
			want   float64
		}{
			{[]string{`listener="gateway:gw-json:` + strconv.Itoa(pj) + `"`, `virtual_service="chat.local"`, `route="chat"`, `virtual_node="llm"`, `code="200"`}, 2},
			{[]string{`listener="gateway:gw-text:` + strconv.Itoa(pt) + `"`, `virtual_service="chat.local"`, `route="completions"`, `virtual_node="llm"`, `code="200"`}, 2},
			{[]string{`listener="mesh"`, `virtual_service="chat.local"`, `route="chat"`, `virtual_node="llm"`, `code="200"`}, 1},
			{[]string{`listener="gateway:gw-json:` + strconv.Itoa(pj) + `"`, `code="404"`}, 1},
		} {
			got, ok := sample(t, page, "aimesh_requests_total", m.labels...)
			if !ok || got != m.want {
				t.Errorf("aimesh_requests_total{%s} = %v (found %v), want %v", strings.Join(m.labels, ","), got, ok, m.want)
			}
		}
		if v, ok := sample(t, page, "aimesh_config_generation"); !ok || v != 1 {
			t.Errorf("aimesh_config_generation = %v, want 1", v)
		}
	})
}
