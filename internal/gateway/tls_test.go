package gateway_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/tlsconfig/tlstest"
)

// tlsGatewayConfig is a mesh whose VirtualGateway listener terminates TLS
// in mode, whose backendDefaults originate TLS to the upstream when
// upstreamSAN is set, and whose router has an https-only route and a
// catch-all route.
func tlsGatewayConfig(p *tlstest.PKI, port int, mode, certFile, keyFile, clientCA, upstreamAddr, upstreamSAN string, plainAddr ...string) string {
	validation := ""
	if clientCA != "" {
		validation = fmt.Sprintf(`
        validation:
          trust: {file: {certificateChain: %s}}`, clientCA)
	}
	clientPolicy := ""
	if upstreamSAN != "" {
		clientPolicy = fmt.Sprintf(`
  backendDefaults:
    clientPolicy:
      tls:
        validation:
          trust: {file: {certificateChain: %s}}
          subjectAlternativeNames: {match: {exact: [%s]}}`, p.CAFile, upstreamSAN)
	}
	plain := upstreamAddr
	if len(plainAddr) > 0 {
		plain = plainAddr[0]
	}
	return meshDoc("DROP_ALL") + addrNode("llm", upstreamAddr) + addrNode("plain", plain) + vsRouter("llm.local", "r") +
		routerDoc("r", []string{"80/http"}, `
- name: secure
  priority: 0
  httpRoute:
    match: {prefix: /, scheme: https}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
    timeout: {perRequest: {value: 5, unit: s}}
- name: plain
  priority: 1
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: [{virtualNode: plain, weight: 1}]}
    timeout: {perRequest: {value: 5, unit: s}}
`) + fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec:
  listeners:
    - portMapping: {port: %d, protocol: http}
      tls:
        mode: %s
        certificate: {file: {certificateChain: %s, privateKey: %s}}%s%s
`, port, mode, certFile, keyFile, validation, clientPolicy) + gatewayRouteDoc("all", "gw", `
httpRoute:
  match: {prefix: /}
  action: {target: {virtualService: {virtualServiceName: llm.local}}}
`)
}

func tlsClient(t *testing.T, p *tlstest.PKI, certFile, keyFile string) *http.Client {
	cfg := &tls.Config{RootCAs: p.Pool(), ServerName: "gateway.test"}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestGatewayTLS(t *testing.T) {
	p := tlstest.New(t)
	srvCert, srvKey := p.Issue(t, "gateway", "gateway.test")
	up := newUpstream(t, "llm", nil)

	t.Run("STRICT serves TLS, refuses plaintext, matches scheme https", func(t *testing.T) {
		port := freePort(t)
		g := startGW(t, tlsGatewayConfig(p, port, "STRICT", srvCert, srvKey, "", up.addr(), ""), gateway.Options{})
		addr := g.ListenerAddr("gateway:" + strconv.Itoa(port)).String()
		r := call(t, tlsClient(t, p, "", ""), "GET", "https://"+addr+"/v1/models", "", nil, nil)
		if r.code != 200 || up.last(t).Header.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("https: %d %s, X-Forwarded-Proto %q", r.code, r.body, up.last(t).Header.Get("X-Forwarded-Proto"))
		}
		resp, err := client(t).Get("http://" + addr + "/v1/models")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plaintext request answered 200 on a STRICT TLS listener")
			}
		}
	})

	t.Run("PERMISSIVE serves both; the scheme match tells them apart", func(t *testing.T) {
		port := freePort(t)
		plainUp := newUpstream(t, "plain", nil)
		g := startGW(t, tlsGatewayConfig(p, port, "PERMISSIVE", srvCert, srvKey, "", up.addr(), "", plainUp.addr()), gateway.Options{})
		addr := g.ListenerAddr("gateway:" + strconv.Itoa(port)).String()
		if r := call(t, tlsClient(t, p, "", ""), "GET", "https://"+addr+"/x", "", nil, nil); r.code != 200 || r.header.Get("X-Upstream") != "llm" {
			t.Fatalf("https on PERMISSIVE: %d from %q, want 200 from the scheme: https route's llm", r.code, r.header.Get("X-Upstream"))
		}
		if r := call(t, client(t), "GET", "http://"+addr+"/x", "", nil, nil); r.code != 200 || r.header.Get("X-Upstream") != "plain" {
			t.Fatalf("http on PERMISSIVE: %d from %q, want 200 from the catch-all route's plain", r.code, r.header.Get("X-Upstream"))
		}
	})

	t.Run("mutual TLS needs a client certificate from the trusted CA", func(t *testing.T) {
		port := freePort(t)
		cliCert, cliKey := p.Issue(t, "app", "app.test")
		g := startGW(t, tlsGatewayConfig(p, port, "STRICT", srvCert, srvKey, p.CAFile, up.addr(), ""), gateway.Options{})
		url := "https://" + g.ListenerAddr("gateway:"+strconv.Itoa(port)).String() + "/v1/models"
		if r := call(t, tlsClient(t, p, cliCert, cliKey), "GET", url, "", nil, nil); r.code != 200 {
			t.Fatalf("with a client certificate: %d %s", r.code, r.body)
		}
		if _, err := tlsClient(t, p, "", "").Get(url); err == nil {
			t.Fatal("a client without a certificate got through a mutual TLS listener")
		}
	})
}

func TestUpstreamTLSFromClientPolicy(t *testing.T) {
	p := tlstest.New(t)
	gwCert, gwKey := p.Issue(t, "gateway", "gateway.test")
	upCert, upKey := p.Issue(t, "llm", "llm.mesh.local")
	kp, err := tls.LoadX509KeyPair(upCert, upKey)
	if err != nil {
		t.Fatal(err)
	}
	var sawTLS bool
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS = r.TLS != nil
		w.Write([]byte(`{"ok":true}`))
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	up.StartTLS()
	t.Cleanup(up.Close)
	upAddr := strings.TrimPrefix(up.URL, "https://")

	for _, tc := range []struct {
		san  string
		want int
	}{
		{"llm.mesh.local", 200},
		{"someone-else.mesh.local", 502},
	} {
		t.Run(tc.san, func(t *testing.T) {
			port := freePort(t)
			g := startGW(t, tlsGatewayConfig(p, port, "STRICT", gwCert, gwKey, "", upAddr, tc.san), gateway.Options{})
			url := "https://" + g.ListenerAddr("gateway:"+strconv.Itoa(port)).String() + "/v1/models"
			r := call(t, tlsClient(t, p, "", ""), "GET", url, "", nil, nil)
			if r.code != tc.want {
				t.Fatalf("status %d, want %d: %s", r.code, tc.want, r.body)
			}
			if tc.want == 200 && !sawTLS {
				t.Fatal("the upstream saw plaintext")
			}
		})
	}
}

func TestBadCertificateRejectsReload(t *testing.T) {
	p := tlstest.New(t)
	cert, key := p.Issue(t, "gateway", "gateway.test")
	up := newUpstream(t, "llm", nil)
	port := freePort(t)
	g := startGW(t, tlsGatewayConfig(p, port, "STRICT", cert, key, "", up.addr(), ""), gateway.Options{})
	gen := g.Snapshot().Generation
	bad := parseConfig(t, tlsGatewayConfig(p, port, "STRICT", cert, key, "", up.addr(), ""), false)
	bad.VirtualGateways[0].Spec.Listeners[0].TLS.Certificate.File.PrivateKey = p.CAFile // not a key
	if err := g.Apply(bad); err == nil {
		t.Fatal("a listener certificate that does not load was accepted")
	}
	if g.Snapshot().Generation != gen {
		t.Fatal("the rejected config replaced the served one")
	}
}
