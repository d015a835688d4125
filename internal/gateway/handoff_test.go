package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// TestFastLaneHandOff: a request the fast lane does not serve itself (an
// HTTP/1.0 one here) is answered through net/http on the same listener,
// the fast lane's own requests go on, and /metrics counts the hand-off.
func TestFastLaneHandOff(t *testing.T) {
	if os.Getenv("AIMESH_TEST_NET_HTTP_ONLY") == "1" {
		t.Skip("net/http alone serves the listeners: nothing is handed off")
	}
	up := newUpstream(t, "up", nil)
	g := startGW(t, meshDoc("DROP_ALL")+upNode("up", up)+vsNode("api.local", "up"), gateway.Options{})

	c, err := net.Dial("tcp", strings.TrimPrefix(g.mesh, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /old HTTP/1.0\r\nHost: api.local\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("HTTP/1.0 request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "up" {
		t.Fatalf("HTTP/1.0 request: %s from %q", resp.Status, resp.Header.Get("X-Upstream"))
	}
	if r := call(t, client(t), "GET", g.mesh+"/new", "api.local", nil, nil); r.code != 200 {
		t.Fatalf("HTTP/1.1 request: %d %s", r.code, r.body)
	}
	mr, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	if want := `aimesh_http1_handoffs_total{listener="mesh"} 1`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics has no %s", want)
	}
}
