package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/sim"
)

// setup is what every run shares.
type setup struct {
	servers    int
	maxNumSeqs int
	kvBlocks   int
	timeScale  float64 // wall = simulated × timeScale
	scrape     time.Duration
	timeout    time.Duration // per request, simulated
	seed       uint64
}

// outcome is one request's result, in wall time.
type outcome struct {
	ttft     time.Duration // -1: no first token
	tokens   int           // output tokens received within the run window
	complete bool          // 200 and [DONE] within the timeout
	failure  string        // why not, when not
}

// runResult is one (policy, rate) run.
type runResult struct {
	policy     string
	rate       float64 // offered, requests per simulated second
	sent       int
	outcomes   []outcome
	window     time.Duration // wall
	prefixHits float64       // fraction of prompt tokens served from prefix caches
}

func (s setup) wall(d time.Duration) time.Duration { return time.Duration(float64(d) * s.timeScale) }

// run starts a fresh simulated cluster and gateway for policy, replays the
// schedule over window (simulated) and waits for the requests to finish.
func (s setup) run(policy string, rate float64, sched []arrival, window time.Duration) (*runResult, error) {
	cfgs := make([]sim.Config, s.servers)
	for i := range cfgs {
		c := sim.DefaultConfig()
		c.Name = fmt.Sprintf("s%d", i)
		c.MaxNumSeqs = s.maxNumSeqs
		c.KVBlocks = s.kvBlocks
		c.TimeScale = s.timeScale
		c.Seed = s.seed + uint64(i)
		cfgs[i] = c
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := sim.StartCluster(ctx, "127.0.0.1", 0, cfgs)
	if err != nil {
		return nil, fmt.Errorf("run %s at %g/s: %w", policy, rate, err)
	}
	defer cl.Close()
	g, base, err := s.gateway(policy, cl)
	if err != nil {
		return nil, fmt.Errorf("run %s at %g/s: %w", policy, rate, err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		g.Shutdown(sctx)
	}()
	tr := &http.Transport{MaxIdleConnsPerHost: 4096, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	// Give the collectors a first scrape.
	time.Sleep(3 * s.scrape)

	res := &runResult{policy: policy, rate: rate, sent: len(sched), outcomes: make([]outcome, len(sched)), window: s.wall(window)}
	start := time.Now()
	end := start.Add(res.window)
	var wg sync.WaitGroup
	for i, a := range sched {
		if d := time.Until(start.Add(s.wall(a.at))); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() { res.outcomes[i] = s.send(hc, base, a.body, end) })
	}
	wg.Wait()
	var q, h int64
	for _, r := range cl.Servers {
		st := r.Stats()
		q += st.PrefixQueries
		h += st.PrefixHits
	}
	if q > 0 {
		res.prefixHits = float64(h) / float64(q)
	}
	return res, nil
}

const meshYAML = `apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: bench}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: llm.local}
spec: {provider: {virtualRouter: {virtualRouterName: llm}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: llm}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  routes:
    - name: chat
      httpRoute:
        match: {prefix: /v1/}
        action: {weightedTargets: [{virtualNode: vllm, weight: 1}]}
        retryPolicy:
          tcpRetryEvents: [connection-error]
          maxRetries: 1
          perRetryTimeout: {value: 300, unit: s}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: vllm}
spec:
  listeners:
    - portMapping: {port: 8000, protocol: http}
  serviceDiscovery: {static: {endpoints: [%s]}}
  loadBalancing: {policy: %s}
  modelServer: {engine: vllm, scrapeInterval: {value: %d, unit: ms}}
`

func (s setup) gateway(policy string, cl *sim.Cluster) (*gateway.Gateway, string, error) {
	var eps []string
	for _, r := range cl.Servers {
		host, port, _ := strings.Cut(r.Addr, ":")
		eps = append(eps, fmt.Sprintf("{address: %s, port: %s}", host, port))
	}
	yaml := fmt.Sprintf(meshYAML, strings.Join(eps, ", "), policy, s.scrape.Milliseconds())
	res, errs := config.Decode("bench.yaml", []byte(yaml))
	if len(errs) > 0 {
		return nil, "", fmt.Errorf("decode: %w", errs.Err())
	}
	if err := config.Prepare(res, config.Options{}); err != nil {
		return nil, "", fmt.Errorf("validate: %w", err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("AIMESH_BENCH_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g := gateway.New(gateway.Options{ListenAddress: "127.0.0.1", MeshAddress: "127.0.0.1:0", Log: log})
	if err := g.Apply(res); err != nil {
		return nil, "", fmt.Errorf("apply: %w", err)
	}
	return g, "http://" + g.ListenerAddr("mesh").String(), nil
}

var (
	dataPrefix = []byte("data: ")
	doneLine   = []byte("data: [DONE]")
	content    = []byte(`"content":"`)
)

// send streams one request and measures it.
func (s setup) send(hc *http.Client, base string, body []byte, end time.Time) outcome {
	out := outcome{ttft: -1}
	ctx, cancel := context.WithTimeout(context.Background(), s.wall(s.timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return out
	}
	req.Host = "llm.local"
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		out.failure = "error: " + err.Error()
		return out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		out.failure = fmt.Sprintf("status %d: %s", resp.StatusCode, b)
		return out
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, dataPrefix) {
			continue
		}
		if bytes.Equal(line, doneLine) {
			out.complete = true
			continue // read to EOF so the connection is reused
		}
		now := time.Now()
		if out.ttft < 0 {
			out.ttft = now.Sub(began)
		}
		if i := bytes.Index(line, content); i >= 0 && i+len(content) < len(line) && line[i+len(content)] != '"' && now.Before(end) {
			out.tokens++
		}
	}
	if out.complete && sc.Err() != nil {
		out.complete = false
	}
	if !out.complete {
		out.failure = "stream ended early"
		if err := sc.Err(); err != nil {
			out.failure = "stream: " + err.Error()
		}
	}
	return out
}
