package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/gateway"
)

// abortAfterFirstChunk sends the headers and one SSE event, then cuts the
// connection.
func abortAfterFirstChunk(u *upstream, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "data: partial\n\n")
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// resetHandler cuts the connection without answering.
func resetHandler(u *upstream, w http.ResponseWriter, r *http.Request) {
	panic(http.ErrAbortHandler)
}

// retryRoute is one router route for the retry tests: node NAME-t with the
// target upstreams, optionally node NAME-f with the fallback upstreams.
type retryRoute struct {
	name     string
	targets  []*upstream
	closed   int    // extra target endpoints where nothing listens
	policy   string // retryPolicy in flow style; "" for App Mesh's implicit one
	fallback []*upstream
}

func (rr retryRoute) yaml(t testing.TB) string {
	addrs := make([]string, 0, len(rr.targets)+rr.closed)
	for _, u := range rr.targets {
		addrs = append(addrs, u.addr())
	}
	for i := 0; i < rr.closed; i++ {
		addrs = append(addrs, closedAddr(t))
	}
	s := addrNode(rr.name+"-t", addrs...) + vsRouter(rr.name+".local", rr.name)
	route := fmt.Sprintf("- name: %s\n  httpRoute:\n    match: {prefix: /}\n    action:\n      weightedTargets: %s\n", rr.name, weighted(rr.name+"-t", 1))
	if len(rr.fallback) > 0 {
		s += upNode(rr.name+"-f", rr.fallback...)
		route += fmt.Sprintf("      fallback: [{virtualNode: %s-f}]\n", rr.name)
	}
	if rr.policy != "" {
		route += "    retryPolicy: " + rr.policy + "\n"
	}
	return s + routerDoc(rr.name, []string{"8080/http"}, route)
}

func hitsOf(ups []*upstream) (total int64, max int64) {
	for _, u := range ups {
		h := u.hits.Load()
		total += h
		if h > max {
			max = h
		}
	}
	return total, max
}

func newUpstreams(t testing.TB, prefix string, n int, h handlerFunc) []*upstream {
	out := make([]*upstream, n)
	for i := range out {
		out[i] = newUpstream(t, fmt.Sprintf("%s%d", prefix, i), h)
	}
	return out
}

// TestRetriesAndFallback proves, counting attempts at the upstreams, that
// retries go to another endpoint and stop at maxRetries, that App Mesh's
// implicit policy (no retryPolicy) makes 2 retries on 503 and connection
// errors only, that nothing is retried once a response byte reached the
// client, and that fallback targets serve when the weighted target fails.
func TestRetriesAndFallback(t *testing.T) {
	gwErr := `{maxRetries: 2, perRetryTimeout: {value: 10, unit: s}, httpRetryEvents: [gateway-error], tcpRetryEvents: [connection-error]}`
	type tc struct {
		route      retryRoute
		method     string
		wantCode   int
		wantFrom   string // X-Upstream of the answer ("" for a gateway error)
		wantHits   int64  // attempts at the target upstreams
		wantFBHits int64  // at the fallback upstreams
		wantCut    bool   // the body is cut after the first chunk
	}
	cases := []tc{
		{route: retryRoute{name: "stop-at-max", targets: newUpstreams(t, "s", 4, statusHandler(503)),
			policy: `{maxRetries: 2, perRetryTimeout: {value: 10, unit: s}, httpRetryEvents: [server-error]}`},
			wantCode: 503, wantHits: 3},
		{route: retryRoute{name: "max-zero", targets: newUpstreams(t, "z", 3, statusHandler(503)),
			policy: `{maxRetries: 0, perRetryTimeout: {value: 10, unit: s}, httpRetryEvents: [server-error]}`},
			wantCode: 503, wantHits: 1},
		{route: retryRoute{name: "not-an-event", targets: newUpstreams(t, "n", 3, statusHandler(500)), policy: gwErr},
			wantCode: 500, wantHits: 1},
		{route: retryRoute{name: "implicit-503", targets: newUpstreams(t, "i", 4, statusHandler(503))},
			method: "POST", wantCode: 503, wantHits: 3},
		{route: retryRoute{name: "implicit-500", targets: newUpstreams(t, "j", 3, statusHandler(500))},
			wantCode: 500, wantHits: 1},
		{route: retryRoute{name: "implicit-connect", targets: newUpstreams(t, "c", 1, nil), closed: 2},
			method: "POST", wantCode: 200, wantFrom: "c0", wantHits: 1},
		{route: retryRoute{name: "implicit-reset", targets: newUpstreams(t, "r", 3, resetHandler)},
			wantCode: 502, wantHits: 3},
		{route: retryRoute{name: "no-retry-after-first-byte", targets: newUpstreams(t, "b", 3, abortAfterFirstChunk),
			policy: `{maxRetries: 3, perRetryTimeout: {value: 10, unit: s}, httpRetryEvents: [server-error, stream-error], tcpRetryEvents: [connection-error]}`},
			method: "POST", wantCode: 200, wantHits: 1, wantCut: true},
		{route: retryRoute{name: "fallback-after-retries", targets: newUpstreams(t, "fr", 3, statusHandler(503)),
			policy: gwErr, fallback: newUpstreams(t, "frf", 1, nil)},
			method: "POST", wantCode: 200, wantFrom: "frf0", wantHits: 3, wantFBHits: 1},
		{route: retryRoute{name: "fallback-on-500", targets: newUpstreams(t, "f5", 2, statusHandler(500)),
			policy: gwErr, fallback: newUpstreams(t, "f5f", 1, nil)},
			method: "POST", wantCode: 200, wantFrom: "f5f0", wantHits: 1, wantFBHits: 1},
		{route: retryRoute{name: "fallback-implicit-500", targets: newUpstreams(t, "fi", 1, statusHandler(500)),
			fallback: newUpstreams(t, "fif", 1, nil)},
			wantCode: 200, wantFrom: "fif0", wantHits: 1, wantFBHits: 1},
		{route: retryRoute{name: "fallback-on-connect", closed: 2,
			policy: gwErr, fallback: newUpstreams(t, "fcf", 1, nil)},
			method: "POST", wantCode: 200, wantFrom: "fcf0", wantFBHits: 1},
		{route: retryRoute{name: "fallback-fails-too", targets: newUpstreams(t, "ff", 1, statusHandler(500)),
			policy: gwErr, fallback: newUpstreams(t, "fff", 1, statusHandler(503))},
			wantCode: 503, wantFrom: "fff0", wantHits: 1, wantFBHits: 3},
	}
	cfg := meshDoc("DROP_ALL")
	for _, c := range cases {
		cfg += c.route.yaml(t)
	}
	g := startGW(t, cfg, gateway.Options{})
	c := client(t)
	for _, tc := range cases {
		t.Run(tc.route.name, func(t *testing.T) {
			method, body := "GET", []byte(nil)
			if tc.method == "POST" {
				method, body = "POST", chatBody("llama")
			}
			req, _ := http.NewRequest(method, g.mesh+"/v1/chat/completions", strings.NewReader(string(body)))
			req.Host = tc.route.name + ".local"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, tc.wantCode, got)
			}
			if tc.wantFrom != "" && resp.Header.Get("X-Upstream") != tc.wantFrom {
				t.Errorf("answered by %q, want %q", resp.Header.Get("X-Upstream"), tc.wantFrom)
			}
			if tc.wantCut {
				if rerr == nil || string(got) != "data: partial\n\n" {
					t.Errorf("body %q, err %v: want the first chunk, then an error", got, rerr)
				}
			} else if rerr != nil {
				t.Errorf("read body: %v", rerr)
			}
			total, most := hitsOf(tc.route.targets)
			if total != tc.wantHits {
				t.Errorf("%d attempts at the target's endpoints, want %d", total, tc.wantHits)
			}
			if n := int64(len(tc.route.targets)); total <= n && most > 1 {
				t.Errorf("an endpoint got %d of %d attempts while others were untried; retries must move to another endpoint", most, total)
			}
			if fb, _ := hitsOf(tc.route.fallback); fb != tc.wantFBHits {
				t.Errorf("%d attempts at the fallback, want %d", fb, tc.wantFBHits)
			}
			if tc.wantCode == 200 && method == "POST" {
				for _, u := range append(tc.route.targets, tc.route.fallback...) {
					if u.hits.Load() > 0 && string(u.last(t).Body) != string(body) {
						t.Errorf("upstream %s got body %q, want %q", u.name, u.last(t).Body, body)
					}
				}
			}
		})
	}
}
