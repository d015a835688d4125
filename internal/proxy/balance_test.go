package proxy_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// scriptedBalancer picks the first endpoint of a target (or sheds) and
// records every Done.
type scriptedBalancer struct {
	shed map[*snapshot.Target]bool
	mu   sync.Mutex
	done []string
}

func (b *scriptedBalancer) Pick(t *snapshot.Target, _ *proxy.Plan, _ []*discovery.Endpoint) (*discovery.Endpoint, error) {
	if b.shed[t] {
		return nil, picker.ErrShed
	}
	eps := t.Endpoints.Endpoints()
	if len(eps) == 0 {
		return nil, nil
	}
	return eps[0], nil
}

func (b *scriptedBalancer) Done(t *snapshot.Target, ep *discovery.Endpoint, _ *proxy.Plan, code int, failure string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = append(b.done, t.Node.Name+" "+http.StatusText(code)+" "+failure)
}

func targetFor(t *testing.T, name string, addrs ...string) *snapshot.Target {
	t.Helper()
	set := discovery.NewRegistry(nil).Ensure(discovery.Key{Node: name, Port: 1}, discovery.Spec{})
	set.Update(addrs)
	return &snapshot.Target{Node: &snapshot.Node{Name: name}, Endpoints: set, Protocol: "http"}
}

func TestForwardWithBalancer(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

	primary := targetFor(t, "primary", addr(ok))
	failing := targetFor(t, "failing", addr(bad))
	fallback := targetFor(t, "fallback", addr(ok))
	tests := []struct {
		name     string
		target   *snapshot.Target
		fallback []*snapshot.Target
		shed     []*snapshot.Target
		code     int
		done     []string
	}{
		{"served", primary, nil, nil, 200, []string{"primary OK "}},
		{"server error is reported", failing, nil, nil, 500, []string{"failing Internal Server Error "}},
		{"5xx goes to the fallback", failing, []*snapshot.Target{fallback}, nil, 200,
			[]string{"failing Internal Server Error ", "fallback OK "}},
		{"shed", primary, nil, []*snapshot.Target{primary}, 429, nil},
		{"shed primary, fallback serves", primary, []*snapshot.Target{fallback}, []*snapshot.Target{primary}, 200, []string{"fallback OK "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &scriptedBalancer{shed: map[*snapshot.Target]bool{}}
			for _, s := range tt.shed {
				b.shed[s] = true
			}
			f := &proxy.Forwarder{Pools: proxy.NewPools(), Balancer: b, Log: slog.New(slog.DiscardHandler)}
			p := &proxy.Plan{Target: tt.target, Path: "/v1/chat/completions", Host: "llm.local",
				Route: &snapshot.Route{Name: "r", Fallback: tt.fallback}}
			p.Pick.Tokens = 1234
			w := httptest.NewRecorder()
			var res proxy.Result
			f.Forward(w, httptest.NewRequest("POST", "/v1/chat/completions", nil), p, &res)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if strings.Join(b.done, "|") != strings.Join(tt.done, "|") {
				t.Fatalf("Done calls %q, want %q", b.done, tt.done)
			}
			for _, tg := range []*snapshot.Target{primary, failing, fallback} {
				ep := tg.Endpoints.Endpoints()[0]
				if ep.InFlight.Load() != 0 || ep.State.InFlightTokens.Load() != 0 {
					t.Fatalf("%s left %d requests and %d tokens in flight", tg.Node.Name, ep.InFlight.Load(), ep.State.InFlightTokens.Load())
				}
			}
			if tt.code == 429 {
				if w.Header().Get("Retry-After") != proxy.ShedRetryAfter || res.Failure != "shed" {
					t.Fatalf("Retry-After %q, failure %q", w.Header().Get("Retry-After"), res.Failure)
				}
				var body struct {
					Error struct{ Type, Code, Message string }
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "overloaded" || body.Error.Type != "rate_limit_error" {
					t.Fatalf("body %s (%v)", w.Body, err)
				}
			}
		})
	}
}

func TestForwardCountsTokensInFlight(t *testing.T) {
	var target *snapshot.Target
	seen := make(chan int64, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep := target.Endpoints.Endpoints()[0]
		seen <- ep.State.InFlightTokens.Load()
	}))
	defer up.Close()
	target = targetFor(t, "n", strings.TrimPrefix(up.URL, "http://"))
	f := &proxy.Forwarder{Pools: proxy.NewPools(), Pick: proxy.RoundRobin, Log: slog.New(slog.DiscardHandler)}
	p := &proxy.Plan{Target: target, Path: "/", Host: "x"}
	p.Pick.Tokens = 777
	f.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), p, &proxy.Result{})
	if got := <-seen; got != 777 {
		t.Fatalf("tokens in flight during the request = %d, want 777", got)
	}
	if got := target.Endpoints.Endpoints()[0].State.InFlightTokens.Load(); got != 0 {
		t.Fatalf("tokens in flight after = %d, want 0", got)
	}
}
