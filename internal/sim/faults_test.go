package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     Faults
		status     int
		code       string
		retryAfter string // "" for none
	}{
		{"429 rate limit", Faults{ErrorRate: 1, ErrorStatus: 429, RetryAfterSeconds: 2}, 429, "rate_limit_exceeded", "2"},
		{"500", Faults{ErrorRate: 1, ErrorStatus: 500}, 500, "internal_error", ""},
		{"503 default retry-after", Faults{ErrorRate: 1, ErrorStatus: 503}, 503, "service_unavailable", "1"},
		{"status defaults to 500", Faults{ErrorRate: 1}, 500, "internal_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Faults = tt.faults
			r := startServer(t, cfg)
			for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
				body := `{"model":"m","messages":[{"role":"user","content":"x"}],"prompt":"x"}`
				resp, b := post(t, r.URL+path, body)
				if resp.StatusCode != tt.status {
					t.Fatalf("%s: status %d, want %d", path, resp.StatusCode, tt.status)
				}
				checkErrorBody(t, b, tt.code)
				if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("%s: Retry-After %q, want %q", path, got, tt.retryAfter)
				}
			}
			if st := r.Stats(); st.PrefixQueries != 0 {
				t.Errorf("failed requests reached the engine: %+v", st)
			}
		})
	}
}

func TestErrorRateIsAFraction(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{ErrorRate: 0.3, ErrorStatus: 503}
	cfg.DefaultMaxTokens = 1
	r := startServer(t, cfg)
	const n = 200
	failed := 0
	for range n {
		resp, _ := post(t, r.URL+"/v1/completions", `{"model":"m","prompt":"x"}`)
		switch resp.StatusCode {
		case 503:
			failed++
		case 200:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Binomial(200, 0.3): mean 60, sd 6.5; the seed makes the run repeatable anyway.
	if failed < 35 || failed > 85 {
		t.Errorf("%d of %d failed, want about %d", failed, n, n*3/10)
	}
}

func TestHangFault(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{HangRate: 1}
	r := startServer(t, cfg)

	for _, streaming := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		start := time.Now()
		body := map[string]any{"model": "m", "prompt": "x", "stream": streaming}
		js, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/v1/completions", strings.NewReader(string(js)))
		errc := make(chan error, 1)
		go func() {
			resp, err := testClient.Do(req)
			if err == nil {
				resp.Body.Close()
				err = errors.New("got a response: " + resp.Status)
			}
			errc <- err
		}()
		waitFor(t, 2*time.Second, "the request to hang", func() bool { return r.Stats().Hanging == 1 })
		err := <-errc
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stream=%v: %v, want the client's deadline", streaming, err)
		}
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Errorf("stream=%v: gave up after %s", streaming, el)
		}
		waitFor(t, 2*time.Second, "the hung handler to leave", func() bool { return r.Stats().Hanging == 0 })
	}
	if st := r.Stats(); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("hung requests took engine slots: %+v", st)
	}
}

func TestCloseMidStreamFault(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{CloseAfterChunks: 3} // rate defaults to 1
	r := startServer(t, cfg)

	tests := []struct {
		name string
		path string
		body map[string]any
	}{
		{"chat", "/v1/chat/completions", chatBody("m", "hi", 10)},
		{"completion", "/v1/completions", map[string]any{"model": "m", "prompt": "hi", "max_tokens": 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := stream(t.Context(), r.URL+tt.path, tt.body)
			if res.status != 200 {
				t.Fatalf("status %d", res.status)
			}
			if len(res.events) != 3 || res.done {
				t.Errorf("%d events, done=%v; want 3 and no [DONE]", len(res.events), res.done)
			}
			if !errors.Is(res.err, io.ErrUnexpectedEOF) {
				t.Errorf("read error %v, want unexpected EOF", res.err)
			}
		})
	}
	t.Run("non-streaming", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, r.URL+"/v1/completions",
			strings.NewReader(`{"model":"m","prompt":"hi","max_tokens":10}`))
		resp, err := testClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %s, want the connection closed", resp.Status)
		}
	})
	waitFor(t, 2*time.Second, "aborted requests to leave the engine", func() bool { return r.Stats().Running == 0 })
	if st := r.Stats(); st.KVBlocksUsed != 0 {
		t.Errorf("aborted requests kept blocks: %+v", st)
	}
	// The server still serves once the fault is cleared.
	r.ClearFaults()
	if res := stream(t.Context(), r.URL+"/v1/completions", map[string]any{"model": "m", "prompt": "hi"}); !res.done || res.err != nil {
		t.Errorf("after clear: done %v err %v", res.done, res.err)
	}
}

func TestSlowStartFault(t *testing.T) {
	cfg := testConfig()
	cfg.PrefillOverhead = 10 * time.Millisecond
	cfg.TimeScale = 0.5
	base := cfg.scale(cfg.PrefillOverhead)
	slow := cfg.scale(cfg.PrefillOverhead + 200*time.Millisecond)
	eventually(t, func(a *attempt) {
		r := startServer(t, cfg)
		ttft := func() time.Duration {
			res := stream(t.Context(), r.URL+"/v1/completions", map[string]any{"model": "m", "prompt": "x", "max_tokens": 2})
			if !res.done || res.err != nil {
				t.Fatalf("done %v err %v", res.done, res.err)
			}
			return res.ttft()
		}
		a.within("TTFT", ttft(), base, base+slack)
		if err := r.SetFaults(Faults{SlowStart: 200 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		a.within("TTFT with slow start", ttft(), slow, slow+slack)
	})
}

func TestUnhealthyFault(t *testing.T) {
	r := startServer(t, testConfig())
	if err := r.SetFaults(Faults{Unhealthy: true}); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, r.URL+"/health")
	if resp.StatusCode != 503 {
		t.Fatalf("/health = %d", resp.StatusCode)
	}
	checkErrorBody(t, body, "unhealthy")
}

func TestFaultsHTTPControl(t *testing.T) {
	r := startServer(t, testConfig())
	do := func(method, body string) (int, Faults) {
		req, _ := http.NewRequestWithContext(t.Context(), method, r.URL+"/sim/faults", strings.NewReader(body))
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var f Faults
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
		}
		return resp.StatusCode, f
	}

	status, f := do(http.MethodPost, `{"error_rate":1,"error_status":503,"retry_after_seconds":7,"slow_start":"250ms","close_after_chunks":4}`)
	want := Faults{ErrorRate: 1, ErrorStatus: 503, RetryAfterSeconds: 7, SlowStart: 250 * time.Millisecond,
		SlowStartRate: 1, CloseAfterChunks: 4, CloseRate: 1}
	if status != 200 || f != want {
		t.Fatalf("POST: %d %+v, want %+v", status, f, want)
	}
	if _, f := do(http.MethodGet, ""); f != want || r.Faults() != want {
		t.Errorf("GET: %+v, Faults() %+v, want %+v", f, r.Faults(), want)
	}
	resp, _ := post(t, r.URL+"/v1/completions", `{"model":"m","prompt":"x"}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("with faults: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	for _, bad := range []string{`{"error_rate":2}`, `{"nope":1}`, `{"slow_start":"soon"}`, `{"error_status":200}`, `[`} {
		if status, _ := do(http.MethodPost, bad); status != 400 {
			t.Errorf("POST %s: %d, want 400", bad, status)
		}
	}
	if r.Faults() != want {
		t.Errorf("a bad POST changed the faults: %+v", r.Faults())
	}

	if status, f := do(http.MethodDelete, ""); status != 200 || f.ErrorRate != 0 || f.SlowStart != 0 {
		t.Errorf("DELETE: %d %+v", status, f)
	}
	if resp, _ := post(t, r.URL+"/v1/completions", `{"model":"m","prompt":"x"}`); resp.StatusCode != 200 {
		t.Errorf("after DELETE: %d", resp.StatusCode)
	}
}

func TestShutdownEndsHungRequests(t *testing.T) {
	cfg := testConfig()
	cfg.Faults = Faults{HangRate: 1}
	r := startServer(t, cfg)
	errc := make(chan error, 1)
	go func() {
		resp, err := testClient.Post(r.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"m","prompt":"x"}`))
		if err == nil {
			resp.Body.Close()
			err = errors.New("got a response: " + resp.Status)
		}
		errc <- err
	}()
	waitFor(t, 2*time.Second, "the request to hang", func() bool { return r.Stats().Hanging == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("shutdown took %s with a hung request", el)
	}
	if err := <-errc; err == nil {
		t.Error("hung request got an answer")
	}
}
