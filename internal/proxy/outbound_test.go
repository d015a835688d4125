package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// Forward reuses what it builds for the upstream (request, header map,
// body reader) from one request to the next: nothing of a request may
// show in the next one, and a retried attempt sends the whole body
// again, even after the caller reused the body's buffer in between.
func TestForwardReuseLeaksNothing(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n := len(seen)
		seen = append(seen, fmt.Sprintf("%s %s first=%q xff=%q proto=%q body=%q",
			r.Method, r.URL, r.Header["X-First"], r.Header["X-Forwarded-For"], r.Header["X-Forwarded-Proto"], b))
		mu.Unlock()
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried: the body goes again
			return
		}
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	target := targetFor(t, "n", strings.TrimPrefix(up.URL, "http://"))
	route := &snapshot.Route{Name: "r", Retry: snapshot.RetryPolicy{MaxRetries: 1, GatewayError: true}}
	f := &proxy.Forwarder{Pools: proxy.NewPools(), Pick: proxy.RoundRobin, Log: slog.New(slog.DiscardHandler)}
	defer f.Pools.CloseIdle()

	buf := []byte(`{"model":"a"}`) // the caller's buffer, reused for the next request
	send := func(remote, path string, header http.Header) {
		t.Helper()
		r := httptest.NewRequest("POST", path, nil)
		r.RemoteAddr, r.Header = remote, header
		p := &proxy.Plan{Route: route, Target: target, Host: "llm.local", Path: path, Body: buf}
		w := httptest.NewRecorder()
		var res proxy.Result
		f.Forward(w, r, p, &res)
		if w.Code != 200 || w.Body.String() != "ok" {
			t.Fatalf("%s: status %d, body %q", path, w.Code, w.Body)
		}
	}
	send("10.0.0.1:1000", "/one", http.Header{"X-First": {"yes"}, "X-Forwarded-Proto": {"https"}})
	copy(buf, bytes.Repeat([]byte("#"), len(buf))) // what the gateway may do once Forward returned
	buf = []byte(`{"model":"b","n":2}`)
	send("10.0.0.2:2000", "/two", http.Header{"X-Forwarded-For": {"192.0.2.9"}})

	want := []string{
		`POST /one first=["yes"] xff=["10.0.0.1"] proto=["https"] body="{\"model\":\"a\"}"`,
		`POST /one first=["yes"] xff=["10.0.0.1"] proto=["https"] body="{\"model\":\"a\"}"`,
		`POST /two first=[] xff=["192.0.2.9, 10.0.0.2"] proto=["http"] body="{\"model\":\"b\",\"n\":2}"`,
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("upstream saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
