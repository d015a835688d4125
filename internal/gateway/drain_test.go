package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// drainCut is the drain timeout of the tests below: long enough that a
// cut before it is a bug, short enough to keep the tests quick.
const drainCut = 400 * time.Millisecond

// tcpRouteConfig routes a tcpRoute port to echo; with the port left out
// (port 0) the router only has an HTTP listener.
func tcpRouteConfig(port int, echo *tcpEcho) string {
	cfg := meshDoc("DROP_ALL") + nodeDoc("echo", 80, "tcp", echo.ln.Addr().String()) + vsRouter("l4.local", "l4")
	if port == 0 {
		return cfg + addrNode("web", echo.ln.Addr().String()) + routerDoc("l4", []string{"8080/http"}, `
- name: web
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: [{virtualNode: web, weight: 1}]}
`)
	}
	return cfg + routerDoc("l4", []string{fmt.Sprintf("%d/tcp", port)}, fmt.Sprintf(`
- name: l4
  tcpRoute:
    match: {port: %d}
    action: {weightedTargets: [{virtualNode: echo, weight: 1}]}
`, port))
}

// echoOnce writes a line on c and reads back the echo server's answer.
func echoOnce(t *testing.T, c net.Conn, br *bufio.Reader, prefix string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "ping\n")
	line, err := br.ReadString('\n')
	if err != nil || line != prefix+"ping\n" {
		t.Fatalf("echo through the gateway: %q, %v", line, err)
	}
}

// wantCut asserts that the gateway closed c: a read ends at once with EOF
// or a reset, not at the read deadline.
func wantCut(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection is still open after the drain timeout; want it closed by the gateway")
	}
	if err == nil {
		t.Fatal("read a byte from a connection the gateway should have closed")
	}
}

// shutdownCut runs Shutdown and asserts that it reports the cut and took
// about the drain timeout.
func shutdownCut(t *testing.T, g *testGW) {
	t.Helper()
	start := time.Now()
	err := g.Shutdown(context.Background())
	el := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "drain timeout") {
		t.Errorf("Shutdown with a connection open past the drain timeout: %v, want a drain timeout error", err)
	}
	if el < drainCut-50*time.Millisecond || el > 5*time.Second {
		t.Errorf("Shutdown took %s, want about the %s drain timeout", el, drainCut)
	}
}

// openTCPRoute starts a gateway with a tcpRoute port to an echo server
// and opens a connection through it that has carried one echo.
func openTCPRoute(t *testing.T) (g *testGW, echo *tcpEcho, port int, c net.Conn, br *bufio.Reader) {
	t.Helper()
	echo = newTCPEcho(t, "echo")
	port = freePort(t)
	g = startGW(t, tcpRouteConfig(port, echo), gateway.Options{DrainTimeout: drainCut})
	c, err := net.Dial("tcp", g.ListenerAddr("tcp:"+strconv.Itoa(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br = bufio.NewReader(c)
	echoOnce(t, c, br, "echo:")
	return g, echo, port, c, br
}

// TestDrainCutsTCPRouteConnections: a tcpRoute connection still open when
// the drain timeout passes is closed, both on shutdown and when its
// listener leaves the config.
func TestDrainCutsTCPRouteConnections(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		g, _, _, c, br := openTCPRoute(t)
		shutdownCut(t, g)
		wantCut(t, c, br)
	})
	t.Run("listener removed", func(t *testing.T) {
		g, echo, port, c, br := openTCPRoute(t)
		start := time.Now()
		if err := g.Apply(parseConfig(t, tcpRouteConfig(0, echo), false)); err != nil {
			t.Fatal(err)
		}
		// Within the drain timeout the connection still carries bytes.
		echoOnce(t, c, br, "")
		wantCut(t, c, br)
		if el := time.Since(start); el < drainCut-50*time.Millisecond {
			t.Errorf("the connection was cut %s after its listener left the config, before the %s drain timeout", el, drainCut)
		}
		if g.ListenerAddr("tcp:"+strconv.Itoa(port)) != nil {
			t.Error("the removed tcpRoute listener is still bound")
		}
	})
}

// TestDrainCutsConnectTunnels: a CONNECT tunnel through the mesh listener
// (egress ALLOW_ALL) still open at the drain timeout is closed, and
// Shutdown returns then instead of waiting for the tunnel to end.
func TestDrainCutsConnectTunnels(t *testing.T) {
	echo := newTCPEcho(t, "outside")
	allowed, other := newUpstream(t, "allowed", nil), newUpstream(t, "other", nil)
	g := startGW(t, sidecarConfig("ALLOW_ALL", allowed, other), gateway.Options{DrainTimeout: drainCut})
	c, err := net.Dial("tcp", strings.TrimPrefix(g.mesh, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	target := echo.ln.Addr().String()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	echoOnce(t, c, br, "outside:")
	shutdownCut(t, g)
	wantCut(t, c, br)
}
