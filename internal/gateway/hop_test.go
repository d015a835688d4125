package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// TestHopByHopHeadersStayBehind: hop-by-hop fields (RFC 9110 7.6.1), and
// the fields a Connection header names, go no further than the hop they
// came on, in either direction; end-to-end fields pass.
func TestHopByHopHeadersStayBehind(t *testing.T) {
	up := newUpstream(t, "up", func(u *upstream, w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Connection", "X-Up-Private")
		h.Set("X-Up-Private", "upstream's own")
		h.Set("Keep-Alive", "timeout=9")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("X-Up-Public", "for the client")
		okHandler(u, w, r)
	})
	cfg := meshDoc("DROP_ALL") + upNode("up", up) + vsRouter("api.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: all
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: [{virtualNode: up, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(g.mesh, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	body := chatBody("llama")
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.local\r\n"+
		"Connection: keep-alive, X-Private\r\nX-Private: client's own\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nTe: trailers\r\nX-Public: for the model server\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	seen := up.last(t).Header
	for _, k := range []string{"X-Private", "Keep-Alive", "Proxy-Authorization"} {
		if v, ok := seen[k]; ok {
			t.Errorf("the upstream got the client's hop-by-hop %s: %q", k, v)
		}
	}
	if got := seen.Get("X-Public"); got != "for the model server" {
		t.Errorf("the upstream got X-Public %q, want the client's value", got)
	}
	if got := seen.Get("Te"); got != "trailers" {
		t.Errorf("the upstream got Te %q, want trailers (gRPC needs it)", got)
	}
	for _, k := range []string{"X-Up-Private", "Keep-Alive", "Proxy-Authenticate"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("the client got the upstream's hop-by-hop %s: %q", k, v)
		}
	}
	if got := resp.Header.Get("X-Up-Public"); got != "for the client" {
		t.Errorf("the client got X-Up-Public %q, want the upstream's value", got)
	}
}
