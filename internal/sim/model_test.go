package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timing tests: the lower bounds are tight (timers never fire early, and a busy machine only
// makes things later), the upper bounds leave room for a shared 2-core machine running -race.
const slack = 100 * time.Millisecond

func TestQueueingRaisesTTFT(t *testing.T) {
	cfg := testConfig()
	cfg.MaxNumSeqs = 4
	cfg.PrefillOverhead = 10 * time.Millisecond
	cfg.ITLBase = 40 * time.Millisecond
	const tokens = 10
	service := cfg.PrefillOverhead + (tokens-1)*cfg.ITLBase // one request alone: 370ms

	eventually(t, func(a *attempt) {
		r := startServer(t, cfg)
		results := make([]*streamResult, 2*cfg.MaxNumSeqs)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				results[i] = stream(t.Context(), r.URL+"/v1/completions",
					map[string]any{"model": "m", "prompt": fmt.Sprintf("request %d", i), "max_tokens": tokens})
			})
		}
		// While the first four run, the other four wait, and /metrics says so.
		if poll(5*time.Second, func() bool { st := r.Stats(); return st.Running == 4 && st.Waiting == 4 }) {
			m := scrape(t, r.URL)
			if got := metric(t, m, "vllm:num_requests_waiting", "m"); got <= 0 {
				a.errorf("vllm:num_requests_waiting = %g while 4 wait", got)
			}
			if got := metric(t, m, "vllm:num_requests_running", "m"); got != 4 {
				a.errorf("vllm:num_requests_running = %g, want 4", got)
			}
		} else {
			a.errorf("never saw 4 running and 4 waiting")
		}
		wg.Wait()

		ttfts := make([]time.Duration, len(results))
		for i, res := range results {
			if res.err != nil || !res.done {
				t.Fatalf("request %d: done %v err %v", i, res.done, res.err)
			}
			ttfts[i] = res.ttft()
		}
		slices.Sort(ttfts)
		first, later := ttfts[:4], ttfts[4:]
		t.Logf("TTFTs: %v (service time %s)", ttfts, service)
		a.within("TTFT of the first batch", first[3], cfg.PrefillOverhead, cfg.PrefillOverhead+slack)
		// The later four wait for a slot: one service time more.
		a.within("TTFT of the queued requests", later[0], service+cfg.PrefillOverhead, service+cfg.PrefillOverhead+2*slack)

		m := scrape(t, r.URL)
		if got := m[`vllm:request_queue_time_seconds_count{model_name="m"}`]; got != 8 {
			t.Errorf("queue time count %g, want 8", got)
		}
		if got := m[`vllm:request_queue_time_seconds_sum{model_name="m"}`]; got < 4*service.Seconds() {
			t.Errorf("queue time sum %gs, want at least 4 × %s", got, service)
		}
		if got := metric(t, m, "vllm:num_requests_running", "m"); got != 0 {
			t.Errorf("vllm:num_requests_running = %g after all finished", got)
		}
	})
}

func TestPrefixCacheSpeedsUpRepeatedPrompt(t *testing.T) {
	cfg := testConfig()
	cfg.PrefillOverhead = 5 * time.Millisecond
	cfg.PrefillPerToken = 400 * time.Microsecond
	cfg.TimeScale = 0.5

	promptA := strings.Repeat("a", 4000) // 1000 tokens: 62 full blocks of 16
	promptB := "b" + promptA[1:]         // same length, nothing shared
	fresh := cfg.scale(cfg.PrefillOverhead + 1000*cfg.PrefillPerToken)
	cached := cfg.scale(cfg.PrefillOverhead + (1000-992)*cfg.PrefillPerToken)

	type result struct {
		elapsed time.Duration
		cached  int
	}
	run := func(r *Running, prompt string) result {
		start := time.Now()
		resp, body := post(t, r.URL+"/v1/completions", map[string]any{"model": "m", "prompt": prompt, "max_tokens": 1})
		elapsed := time.Since(start)
		var fr fullResponse
		if err := json.Unmarshal(body, &fr); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d %s %v", resp.StatusCode, body, err)
		}
		return result{elapsed, fr.Usage.PromptTokensDetails.CachedTokens}
	}
	var r *Running
	eventually(t, func(a *attempt) {
		r = startServer(t, cfg)
		a1, a2, b := run(r, promptA), run(r, promptA), run(r, promptB)
		t.Logf("fresh A %s, repeated A %s, fresh B %s (model: fresh %s, cached %s)", a1.elapsed, a2.elapsed, b.elapsed, fresh, cached)
		for _, c := range []struct {
			name    string
			got     result
			want    time.Duration
			cachedN int
		}{{"fresh A", a1, fresh, 0}, {"repeated A", a2, cached, 992}, {"fresh B", b, fresh, 0}} {
			a.within(c.name+" latency", c.got.elapsed, c.want, c.want+slack)
			if c.got.cached != c.cachedN {
				t.Errorf("%s: cached_tokens %d, want %d", c.name, c.got.cached, c.cachedN)
			}
		}
		if a2.elapsed+fresh/2 > b.elapsed {
			a.errorf("repeated prompt took %s, not much faster than a fresh one (%s)", a2.elapsed, b.elapsed)
		}
	})

	m := scrape(t, r.URL)
	if got := metric(t, m, "vllm:prefix_cache_queries_total", "m"); got != 3000 {
		t.Errorf("prefix_cache_queries_total %g, want 3000", got)
	}
	if got := metric(t, m, "vllm:prefix_cache_hits_total", "m"); got != 992 {
		t.Errorf("prefix_cache_hits_total %g, want 992", got)
	}
	if got := metric(t, m, "vllm:prompt_tokens_total", "m"); got != 3000 {
		t.Errorf("prompt_tokens_total %g, want 3000", got)
	}

	// Chat: a shared system prompt is a shared prefix.
	sys := strings.Repeat("You are a careful assistant. ", 30)
	chat := func(user string) int {
		body := map[string]any{"model": "m", "max_tokens": 1, "messages": []map[string]any{
			{"role": "system", "content": sys}, {"role": "user", "content": user}}}
		_, b := post(t, r.URL+"/v1/chat/completions", body)
		var fr fullResponse
		if err := json.Unmarshal(b, &fr); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		return fr.Usage.PromptTokensDetails.CachedTokens
	}
	p1 := RenderChat([]Message{{"system", sys}, {"user", "first question"}})
	p2 := RenderChat([]Message{{"system", sys}, {"user", "second question"}})
	common := 0
	for common < len(p1) && p1[common] == p2[common] {
		common++
	}
	want := common / (cfg.BlockSize * BytesPerToken) * cfg.BlockSize
	if got := chat("first question"); got != 0 {
		t.Errorf("first chat: cached_tokens %d, want 0", got)
	}
	if got := chat("second question"); got != want || want == 0 {
		t.Errorf("second chat: cached_tokens %d, want %d", got, want)
	}

	// Reset drops the cache.
	if n := r.ResetPrefixCache(); n == 0 {
		t.Error("ResetPrefixCache dropped nothing")
	}
	if got := run(r, promptA); got.cached != 0 {
		t.Errorf("after reset: cached_tokens %d, want 0", got.cached)
	}
}

func TestInterTokenLatency(t *testing.T) {
	tests := []struct {
		name       string
		concurrent int
	}{
		{"alone", 1},
		{"batch of 4", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ITLBase = 30 * time.Millisecond
			cfg.ITLPerSeq = 15 * time.Millisecond
			want := cfg.ITLBase + time.Duration(tt.concurrent)*cfg.ITLPerSeq
			const tokens = 6
			eventually(t, func(a *attempt) {
				r := startServer(t, cfg)
				results := make([]*streamResult, tt.concurrent)
				var wg sync.WaitGroup
				for i := range results {
					wg.Go(func() {
						results[i] = stream(t.Context(), r.URL+"/v1/chat/completions", chatBody("m", "go", tokens))
					})
				}
				wg.Wait()
				for i, res := range results {
					ts := res.contentTimes()
					if res.err != nil || len(ts) != tokens {
						t.Fatalf("request %d: %d content chunks, err %v", i, len(ts), res.err)
					}
					g := gaps(ts)
					t.Logf("request %d gaps: %v (want %s)", i, g, want)
					a.within("median gap", median(g), want*9/10, want*3/2)
					a.within("first to last token", ts[len(ts)-1]-ts[0], (tokens-1)*want*9/10, (tokens-1)*want+slack)
				}
			})
		})
	}
}

func TestMetricsTrackInFlightRequests(t *testing.T) {
	cfg := testConfig()
	cfg.MaxNumSeqs = 2
	cfg.KVBlocks = 256
	cfg.ITLBase = 5 * time.Millisecond
	r := startServer(t, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			body := map[string]any{"model": "m", "prompt": fmt.Sprintf("%032d", i) + strings.Repeat("p", 96), "max_tokens": 200}
			res := stream(ctx, r.URL+"/v1/completions", body) // ~1s each: cancelled long before
			if res.done {
				t.Errorf("request %d finished before it was cancelled", i)
			}
		})
	}
	waitFor(t, 5*time.Second, "2 running, 2 waiting", func() bool {
		st := r.Stats()
		return st.Running == 2 && st.Waiting == 2
	})
	m := scrape(t, r.URL)
	// Each request holds ceil((32 prompt + 200 output) / 16) = 15 blocks.
	wantUsage := 2 * 15 / 256.0
	for name, want := range map[string]float64{
		"vllm:num_requests_running": 2,
		"vllm:num_requests_waiting": 2,
		"vllm:kv_cache_usage_perc":  wantUsage,
	} {
		if got := metric(t, m, name, "m"); got != want {
			t.Errorf("in flight: %s = %g, want %g", name, got, want)
		}
	}
	info := `vllm:cache_config_info{model_name="m",block_size="16",cache_dtype="auto",enable_prefix_caching="True",num_cpu_blocks="0",num_gpu_blocks="256"}`
	if m[info] != 1 {
		t.Errorf("no %s 1 in /metrics", info)
	}

	// The two running requests have each sent a first token before they
	// are cancelled (on a busy machine their prefill can still be going
	// when the four are in place).
	waitFor(t, 5*time.Second, "the first token of the two running requests", func() bool {
		return scrape(t, r.URL)[`vllm:time_to_first_token_seconds_count{model_name="m"}`] == 2
	})
	cancel() // clients go: requests leave the batch and the queue, blocks are freed
	wg.Wait()
	waitFor(t, 5*time.Second, "the engine to empty", func() bool {
		st := r.Stats()
		return st.Running == 0 && st.Waiting == 0
	})
	waitFor(t, 5*time.Second, "4 aborted requests in /metrics", func() bool {
		return scrape(t, r.URL)[`vllm:request_success_total{model_name="m",finished_reason="abort"}`] == 4
	})
	m = scrape(t, r.URL)
	for _, name := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} {
		if got := metric(t, m, name, "m"); got != 0 {
			t.Errorf("after cancel: %s = %g, want 0", name, got)
		}
	}
	if st := r.Stats(); st.KVBlocksUsed != 0 || st.KVBlocksFree != 256 {
		t.Errorf("blocks not freed: %+v", st)
	}
	// Histograms are cumulative and consistent.
	ttftCount := metric(t, m, "vllm:time_to_first_token_seconds_count", "m")
	if inf := m[`vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"}`]; inf != ttftCount || ttftCount != 2 {
		t.Errorf("TTFT histogram: +Inf bucket %g, count %g, want 2 (the two that ran)", inf, ttftCount)
	}
}

func TestKVCacheLimitsAdmission(t *testing.T) {
	cfg := testConfig()
	cfg.KVBlocks, cfg.BlockSize, cfg.MaxNumSeqs = 8, 16, 4 // 128 tokens in all
	cfg.ITLBase = 50 * time.Millisecond
	r := startServer(t, cfg)

	// Each request needs (40 prompt + 40 output) / 16 = 5 blocks: two do not fit in 8.
	start := func(ctx context.Context, c byte) chan *streamResult {
		ch := make(chan *streamResult, 1)
		go func() {
			ch <- stream(ctx, r.URL+"/v1/completions", map[string]any{"model": "m", "prompt": strings.Repeat(string(c), 160), "max_tokens": 40})
		}()
		return ch
	}
	ctx1, cancel1 := context.WithCancel(t.Context())
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	first := start(ctx1, 'a')
	waitFor(t, 5*time.Second, "the first request to run", func() bool { return r.Stats().Running == 1 })
	second := start(ctx2, 'b')
	waitFor(t, 5*time.Second, "the second request to wait for KV blocks", func() bool {
		st := r.Stats()
		return st.Running == 1 && st.Waiting == 1 && st.KVBlocksUsed == 5
	})
	cancel1()
	<-first
	waitFor(t, 5*time.Second, "the second request to run once the first left", func() bool {
		st := r.Stats()
		return st.Running == 1 && st.Waiting == 0
	})
	cancel2()
	<-second
	waitFor(t, 5*time.Second, "all blocks free", func() bool { return r.Stats().KVBlocksUsed == 0 })
}

func TestTimeScale(t *testing.T) {
	for _, scale := range []float64{1, 0.25} {
		t.Run(fmt.Sprint(scale), func(t *testing.T) {
			cfg := testConfig()
			cfg.PrefillOverhead = 80 * time.Millisecond
			cfg.ITLBase = 40 * time.Millisecond
			cfg.TimeScale = scale
			want := cfg.scale(cfg.PrefillOverhead + 4*cfg.ITLBase) // 5 tokens: 240ms at scale 1
			eventually(t, func(a *attempt) {
				r := startServer(t, cfg)
				start := time.Now()
				resp, body := post(t, r.URL+"/v1/completions", `{"model":"m","prompt":"x","max_tokens":5}`)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				a.within("latency", time.Since(start), want, want+slack)
			})
		})
	}
}
