package routing_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/sim"
)

// cluster starts n simulators named s0, s1, ... on loopback.
func cluster(t *testing.T, n int, edit func(i int, c *sim.Config)) *sim.Cluster {
	t.Helper()
	cfgs := make([]sim.Config, n)
	for i := range cfgs {
		cfgs[i] = sim.DefaultConfig()
		cfgs[i].Name = fmt.Sprintf("s%d", i)
		cfgs[i].Seed = uint64(i + 1)
		if edit != nil {
			edit(i, &cfgs[i])
		}
	}
	c, err := sim.StartCluster(context.Background(), "127.0.0.1", 0, cfgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// staticEndpoints renders the cluster as static endpoints YAML.
func staticEndpoints(c *sim.Cluster) string {
	var b strings.Builder
	for _, r := range c.Servers {
		host, port, _ := strings.Cut(r.Addr, ":")
		fmt.Fprintf(&b, "{address: %s, port: %s}, ", host, port)
	}
	return "[" + strings.TrimSuffix(b.String(), ", ") + "]"
}

// startGateway applies yaml to a gateway with a mesh listener and returns
// its base URL.
func startGateway(t *testing.T, yaml string) string {
	t.Helper()
	res, errs := config.Decode("routing.yaml", []byte(yaml))
	if len(errs) > 0 {
		t.Fatalf("decode: %v", errs)
	}
	if err := config.Prepare(res, config.Options{}); err != nil {
		t.Fatalf("validate: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("AIMESH_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g := gateway.New(gateway.Options{ListenAddress: "127.0.0.1", MeshAddress: "127.0.0.1:0", DrainTimeout: 2 * time.Second, Log: log})
	if err := g.Apply(res); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return "http://" + g.ListenerAddr("mesh").String()
}

// answer is one request's outcome.
type answer struct {
	at     time.Time
	server string // X-Sim-Server; "" when the gateway answered
	code   int
	header http.Header
	body   []byte
}

// send posts a chat request to host through the gateway.
func send(c *http.Client, base, host string, hdr http.Header, body []byte) answer {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(body))
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{at: time.Now(), code: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{at: time.Now(), server: resp.Header.Get("X-Sim-Server"), code: resp.StatusCode, header: resp.Header, body: b}
}

func chat(prompt string, maxTokens int) []byte {
	return []byte(fmt.Sprintf(`{"model":"sim-model","messages":[{"role":"user","content":%q}],"max_tokens":%d}`, prompt, maxTokens))
}

// load runs workers that send requests until stop is closed, bounded by
// maxRequests in all, and records every answer.
type load struct {
	mu      sync.Mutex
	answers []answer
	wg      sync.WaitGroup
	stop    chan struct{}
}

func startLoad(t *testing.T, workers, maxRequests int, do func(n int) answer) *load {
	l := &load{stop: make(chan struct{})}
	var mu sync.Mutex
	n := 0
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				mu.Lock()
				if n >= maxRequests {
					mu.Unlock()
					return
				}
				n++
				i := n
				mu.Unlock()
				a := do(i)
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(l.close)
	return l
}

func (l *load) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// share returns each server's share of the answers received since from.
func (l *load) share(from time.Time) (map[string]float64, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[string]int{}
	total := 0
	for _, a := range l.answers {
		if a.at.Before(from) {
			continue
		}
		counts[a.server]++
		total++
	}
	out := map[string]float64{}
	for s, c := range counts {
		out[s] = float64(c) / float64(total)
	}
	return out, total
}
