package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadStats is one second of the demo's built-in load.
type loadStats struct {
	mu       sync.Mutex
	ttft     []time.Duration
	versions map[string]int
	errors   int
}

func (s *loadStats) add(ttft time.Duration, version string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors++
		return
	}
	s.ttft = append(s.ttft, ttft)
	s.versions[version]++
}

// take returns the window's numbers and starts a new window.
func (s *loadStats) take() (ttft []time.Duration, versions map[string]int, errors int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ttft, versions, errors = s.ttft, s.versions, s.errors
	s.ttft, s.versions, s.errors = nil, map[string]int{}, 0
	return
}

// driveLoad sends streaming chat requests with Poisson arrivals at rps
// until ctx ends, printing a summary line every second. Requests in
// flight when ctx ends are cancelled; at most 256 run at once.
func driveLoad(ctx context.Context, url string, rps float64, w io.Writer) {
	if rps <= 0 {
		return
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	stats := &loadStats{versions: map[string]int{}}
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	totals := map[string]int{}
	next := time.After(0)
	fmt.Fprintf(w, "\nload: %.1f requests/s of streaming chat (Ctrl-C stops)\n", rps)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			ttft, versions, errs := stats.take()
			for v, n := range versions {
				totals[v] += n
			}
			fmt.Fprintln(w, summaryLine(ttft, versions, errs, totals))
		case <-next:
			next = time.After(time.Duration(rand.ExpFloat64() / rps * float64(time.Second)))
			select {
			case sem <- struct{}{}:
			default:
				stats.add(0, "", fmt.Errorf("overloaded"))
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ttft, version, err := streamOnce(ctx, client, url)
				if ctx.Err() == nil {
					stats.add(ttft, version, err)
				}
			}()
		}
	}
}

func summaryLine(ttft []time.Duration, versions map[string]int, errs int, totals map[string]int) string {
	slices.Sort(ttft)
	pct := func(p float64) string {
		if len(ttft) == 0 {
			return "-"
		}
		return ttft[int(p*float64(len(ttft)-1))].Round(time.Millisecond).String()
	}
	all := 0
	for _, n := range totals {
		all += n
	}
	var split []string
	for _, v := range []string{"v1", "v2"} {
		share := 0.0
		if all > 0 {
			share = 100 * float64(totals[v]) / float64(all)
		}
		split = append(split, fmt.Sprintf("%s %d (%.0f%%)", v, totals[v], share))
	}
	return fmt.Sprintf("%s  %3d req/s  ttft p50 %-6s p99 %-6s  errors %d  total: %s",
		time.Now().Format("15:04:05"), len(ttft), pct(0.5), pct(0.99), errs, strings.Join(split, ", "))
}

// streamOnce sends one streaming chat request and returns the time to the
// first content chunk and the version that answered.
func streamOnce(ctx context.Context, client *http.Client, url string) (time.Duration, string, error) {
	body := `{"model":"` + demoModel + `","stream":true,"max_tokens":24,"messages":[{"role":"user","content":"Tell me about service meshes."}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var ttft time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Bytes()
		if ttft == 0 && bytes.HasPrefix(line, []byte("data: {")) {
			ttft = time.Since(start)
		}
		if bytes.Equal(line, []byte("data: [DONE]")) {
			return ttft, resp.Header.Get("X-Sim-Version"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, "", err
	}
	return 0, "", fmt.Errorf("stream ended without [DONE]")
}
