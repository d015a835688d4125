package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// TestClientGoneFreesWaitingUpstream: a client that hangs up while the
// model server has not answered yet (it queues the request) closes the
// upstream connection soon after, so that the model server can drop the
// request, instead of leaving it to run for nobody.
func TestClientGoneFreesWaitingUpstream(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched on Linux only")
	}
	arrived, gone := make(chan struct{}, 1), make(chan struct{})
	up := newUpstream(t, "queue", func(u *upstream, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(30 * time.Second):
		}
	})
	cfg := meshDoc("DROP_ALL") + upNode("queue", up) + vsRouter("api.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/}
    action: {weightedTargets: [{virtualNode: queue, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(g.mesh, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := chatBody("llama")
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.local\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(body), body)
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	c.Close()
	start := time.Now()
	select {
	case <-gone:
		t.Logf("the upstream's request ended %s after the client hung up", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream still held the request 5s after the client hung up")
	}
}
