package gateway_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/gateway"
)

// splitConfig is a router sending svc.local 's traffic to nodes a and b
// with the given weights.
func splitConfig(a, b *upstream, wa, wb int) string {
	return meshDoc("DROP_ALL") + upNode("a", a) + upNode("b", b) + vsRouter("svc.local", "r") +
		routerDoc("r", []string{"8080/http"}, fmt.Sprintf(`
- name: split
  httpRoute:
    match: {prefix: /}
    action: {weightedTargets: %s}`, weighted("a", wa, "b", wb)))
}

// TestWeightedSplit sends 3000 requests through a 90/10 split and checks
// the share each upstream received against the binomial distribution:
// within 5 standard deviations (a false failure about once in 1.7 million
// runs).
func TestWeightedSplit(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	g := startGW(t, splitConfig(a, b, 90, 10), gateway.Options{})
	const n, workers = 3000, 4
	c := client(t)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				if code := get(c, g.mesh+"/x", "svc.local"); code != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed", f, n)
	}
	if got := a.hits.Load() + b.hits.Load(); got != n {
		t.Fatalf("upstreams got %d requests, want %d", got, n)
	}
	p := 0.10
	mean, sd := n*p, math.Sqrt(n*p*(1-p))
	lo, hi := int64(mean-5*sd), int64(mean+5*sd)
	if got := b.hits.Load(); got < lo || got > hi {
		t.Errorf("b (weight 10) got %d of %d requests, want %d..%d (mean %.0f, sd %.1f)", got, n, lo, hi, mean, sd)
	}
	t.Logf("a=%d b=%d (b expected %.0f ± %.1f)", a.hits.Load(), b.hits.Load(), mean, sd)
}

// get sends a GET with a Host header and returns the status (0 on a
// transport error), reading the whole body.
func get(c *http.Client, url, host string) int {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

// writeAtomic replaces path's content the way editors and ConfigMap
// updates do: write a temporary file, then rename it over path.
func writeAtomic(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// watchedGW starts a gateway from a config file, watching it.
func watchedGW(t *testing.T, path string, logs *logCapture) *testGW {
	t.Helper()
	g := gateway.New(gateway.Options{
		ListenAddress: "127.0.0.1", MeshAddress: "127.0.0.1:0", AdminAddress: "127.0.0.1:0",
		DrainTimeout: 5 * time.Second, Log: logs.logger(),
	})
	if err := g.LoadAndApply([]string{path}); err != nil {
		t.Fatal(err)
	}
	tg := serveGW(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Watch(ctx, []string{path})
	}()
	t.Cleanup(func() { cancel(); <-done })
	logs.waitCount(t, "watching config", 1, 5*time.Second)
	return tg
}

// TestReloadUnderLoad rewrites the watched config file several times (the
// weights change) while four clients send requests for about two seconds,
// and checks that no request failed and the last weights took effect.
// Then an invalid edit and an edit whose listener cannot bind are
// rejected: the old config keeps serving, /config still shows the old
// generation, and aimesh_config_reloads_total{result="failure"} counts
// each rejection once.
func TestReloadUnderLoad(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	writeAtomic(t, path, splitConfig(a, b, 100, 0))
	logs := newLogCapture()
	g := watchedGW(t, path, logs)
	c := client(t)

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ { // bounded even if stop never comes
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if code := get(c, g.mesh+"/x", "svc.local"); code != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	weights := [][2]int{{50, 50}, {0, 100}, {80, 20}, {30, 70}, {0, 100}}
	for i, w := range weights {
		writeAtomic(t, path, splitConfig(a, b, w[0], w[1]))
		want := int64(i + 2)
		eventually(t, 5*time.Second, "generation "+strconv.FormatInt(want, 10), func() bool {
			return g.Snapshot().Generation >= want
		})
		// Let each generation serve for a while under load.
		for time.Since(start) < time.Duration(i+1)*400*time.Millisecond {
			time.Sleep(20 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed during reloads", f, sent.Load())
	}
	if sent.Load() < 100 {
		t.Fatalf("only %d requests were sent", sent.Load())
	}
	t.Logf("%d requests over %s and %d reloads, none failed", sent.Load(), time.Since(start).Round(time.Millisecond), len(weights))
	gen := g.Snapshot().Generation
	if gen != int64(len(weights)+1) {
		t.Fatalf("generation %d, want %d", gen, len(weights)+1)
	}
	checkAllTo := func(what string) {
		t.Helper()
		beforeA, beforeB := a.hits.Load(), b.hits.Load()
		for i := 0; i < 50; i++ {
			if code := get(c, g.mesh+"/x", "svc.local"); code != 200 {
				t.Fatalf("%s: status %d", what, code)
			}
		}
		if da, db := a.hits.Load()-beforeA, b.hits.Load()-beforeB; da != 0 || db != 50 {
			t.Fatalf("%s: a got %d, b got %d of 50; want the last weights 0/100", what, da, db)
		}
	}
	checkAllTo("after the reloads")

	failures := func() float64 {
		v, _ := g.metric(t, "aimesh_config_reloads_total", `result="failure"`)
		return v
	}
	// The port is taken, so the listener of this otherwise valid edit
	// cannot bind.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	edits := []struct{ name, config, log string }{
		{"invalid weight", splitConfig(a, b, 200, 0), "config reload rejected"},
		{"listener cannot bind", splitConfig(a, b, 100, 0) + gatewayDoc("gw", busyPort, "http", ""), "config reload failed"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			before := failures()
			n := logs.count(e.log)
			writeAtomic(t, path, e.config)
			logs.waitCount(t, e.log, n+1, 5*time.Second)
			if got := failures(); got != before+1 {
				t.Errorf("aimesh_config_reloads_total{result=failure} went from %v to %v, want +1", before, got)
			}
			if g.Snapshot().Generation != gen {
				t.Errorf("generation %d after a rejected edit, want %d", g.Snapshot().Generation, gen)
			}
			resp, err := http.Get(g.admin + "/config")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if h := resp.Header.Get("X-Aimesh-Generation"); h != strconv.FormatInt(gen, 10) {
				t.Errorf("/config generation %q, want %d", h, gen)
			}
			if !strings.Contains(string(body), "weight: 100") || strings.Contains(string(body), "weight: 200") {
				t.Errorf("/config does not show the served weights 0/100:\n%s", body)
			}
			checkAllTo("after a rejected edit")
		})
	}
}
