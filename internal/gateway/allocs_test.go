package gateway_test

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// allocBudget is how many heap allocations one routed request may cost
// the gateway (fast lane, model route, HTTP/1.1 upstream, access log and
// metrics). It was 36 before the request path was pooled, 15 after, and
// 11 once the upstream client hooked the request's context instead of
// calling context.AfterFunc; the margin is for background work (health
// checks, timers) that AllocsPerRun counts too. Raise it only for a
// reason worth its CPU.
const allocBudget = 15

// TestAllocationsPerRequest holds the request path to its allocation
// budget. The client and the upstream are raw loops that allocate nothing
// per request, so what AllocsPerRun counts is the gateway's.
func TestAllocationsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts mean nothing")
	}
	if os.Getenv("AIMESH_TEST_NET_HTTP_ONLY") == "1" {
		t.Skip("the budget is the fast lane's; net/http's server allocates more per request")
	}
	up := quietUpstream(t, []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}]}`))
	cfg := meshDoc("DROP_ALL") + addrNode("llm", up) + vsRouter("bench.local", "r") +
		routerDoc("r", []string{"8080/http"}, `
- name: chat
  httpRoute:
    match: {prefix: /v1/chat/, method: POST, model: {exact: llama}}
    action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
`)
	g := startGW(t, cfg, gateway.Options{})
	c, err := net.Dial("tcp", g.ListenerAddr("mesh").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: alloc-test\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(benchChat)) + "\r\n\r\n" + string(benchChat))
	br := bufio.NewReaderSize(c, 8192)
	var failed error
	one := func() {
		if failed != nil {
			return
		}
		if _, err := c.Write(req); err != nil {
			failed = err
			return
		}
		status, err := readRawMessage(br)
		if err == nil && status != 200 {
			err = strconv.ErrSyntax
		}
		if err != nil {
			failed = err
		}
	}
	for range 50 { // warm the pools, the upstream connection, the route
		one()
	}
	got := testing.AllocsPerRun(500, one)
	if failed != nil {
		t.Fatalf("request through the gateway: %v", failed)
	}
	t.Logf("%.1f allocations per request (budget %d)", got, allocBudget)
	if got > allocBudget {
		t.Errorf("a routed request costs %.1f heap allocations, over the budget of %d: "+
			"profile with go test -run '^$' -bench 'Proxy/chat/gateway' -memprofile", got, allocBudget)
	}
}

// quietUpstream answers every request on a loopback port with body, reading
// the request's head and Content-Length body without allocating (not
// startRawUpstream: its http.ReadRequest would put some eighteen
// allocations per request into the count).
func quietUpstream(t *testing.T, body []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 8192)
				for {
					if _, err := readRawMessage(br); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readRawMessage reads one HTTP/1.1 message framed by Content-Length
// (request or response) and returns the status code of a response (0 for
// a request).
func readRawMessage(br *bufio.Reader) (status int, err error) {
	length := 0
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if first && bytes.HasPrefix(line, []byte("HTTP/1.1 ")) && len(line) >= 12 {
			status = atoi(line[9:12])
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length = atoi(bytes.TrimSpace(v))
		}
	}
	_, err = br.Discard(length)
	return status, err
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
