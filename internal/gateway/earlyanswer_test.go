package gateway_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// TestEarlyAnswerKeepsBodiesApart sends a large request body to an
// upstream that answers at once without reading it (as a model server
// rejecting a request does), then more requests through the same gateway.
// The Transport may still be writing the first body after its answer was
// relayed; the gateway must not hand that buffer to the next request.
// Under -race an overlap is reported; without it the upstream would
// receive another request's bytes.
func TestEarlyAnswerKeepsBodiesApart(t *testing.T) {
	stop := make(chan struct{})
	early := newUpstream(t, "early", nil)
	early.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("{}"))
		http.NewResponseController(w).Flush()
		select { // hold the connection without reading the body
		case <-stop:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stop) })
	echo := newUpstream(t, "echo", nil)
	cfg := meshDoc("DROP_ALL") + upNode("early", early) + upNode("echo", echo) + vsRouter("api.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: early
  httpRoute:
    match: {prefix: /early/, model: {prefix: llama}}
    action: {weightedTargets: [{virtualNode: early, weight: 1}]}
- name: echo
  httpRoute:
    match: {prefix: /echo/, model: {prefix: llama}}
    action: {weightedTargets: [{virtualNode: echo, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c := client(t)
	big := bigChat("llama", 900<<10)
	for round := 0; round < 3; round++ {
		if r := call(t, c, "POST", g.mesh+"/early/x", "api.local", nil, big); r.code != 400 {
			t.Fatalf("early answer: %d %s", r.code, r.body)
		}
		for i := 0; i < 10; i++ {
			body := bigChat("llama-"+string(rune('a'+i)), 64<<10)
			if r := call(t, c, "POST", g.mesh+"/echo/x", "api.local", nil, body); r.code != 200 {
				t.Fatalf("echo: %d %s", r.code, r.body)
			}
			if got := echo.last(t).Body; !bytes.Equal(got, body) {
				t.Fatalf("echo got %d bytes, not the %d sent", len(got), len(body))
			}
		}
	}
}
