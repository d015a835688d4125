package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testConfig is a small, fast server: durations a test sets explicitly matter, the rest are
// near zero.
func testConfig() Config {
	c := DefaultConfig()
	c.Name = "t"
	c.Model = "m"
	c.MaxNumSeqs = 8
	c.KVBlocks = 1024
	c.PrefillOverhead = time.Millisecond
	c.PrefillPerToken = 0
	c.ITLBase = time.Millisecond
	c.ITLPerSeq = 0
	c.DefaultMaxTokens = 4
	return c
}

func startServer(t testing.TB, cfg Config) *Running {
	t.Helper()
	r, err := Start(t.Context(), "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

var testClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}

// post sends a JSON body and returns the response with its body read.
func post(t testing.TB, url string, body any) (*http.Response, []byte) {
	t.Helper()
	return postCtx(t, context.Background(), url, body)
}

func postCtx(t testing.TB, ctx context.Context, url string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

func get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

// streamResult is what a client saw of an SSE response.
type streamResult struct {
	status int
	header http.Header
	events []sseEvent // data events other than [DONE]
	done   bool       // saw data: [DONE]
	err    error      // transport or read error, if any
}

type sseEvent struct {
	at   time.Duration // since the request was sent
	data string
}

// contentTimes returns the arrival times of events that carry generated text.
func (s *streamResult) contentTimes() []time.Duration {
	var ts []time.Duration
	for _, e := range s.events {
		var c struct {
			Choices []struct {
				Delta *struct {
					Content *string `json:"content"`
				} `json:"delta"`
				Text *string `json:"text"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(e.data), &c) != nil || len(c.Choices) == 0 {
			continue
		}
		ch := c.Choices[0]
		if (ch.Delta != nil && ch.Delta.Content != nil && *ch.Delta.Content != "") || (ch.Text != nil && *ch.Text != "") {
			ts = append(ts, e.at)
		}
	}
	return ts
}

// ttft is the arrival time of the first event with generated text.
func (s *streamResult) ttft() time.Duration {
	ts := s.contentTimes()
	if len(ts) == 0 {
		return -1
	}
	return ts[0]
}

// stream sends a streaming request and reads the SSE events as they arrive.
func stream(ctx context.Context, url string, body map[string]any) *streamResult {
	res := &streamResult{}
	body["stream"] = true
	js, err := json.Marshal(body)
	if err != nil {
		res.err = err
		return res
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(js))
	if err != nil {
		res.err = err
		return res
	}
	start := time.Now()
	resp, err := testClient.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	res.status, res.header = resp.StatusCode, resp.Header
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) || !res.done {
				res.err = err
			}
			return res
		}
		line = strings.TrimRight(line, "\n")
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			res.done = true
			continue
		}
		res.events = append(res.events, sseEvent{at: time.Since(start), data: data})
	}
}

// waitFor polls cond until it holds, or fails the test when the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// poll reports whether cond held within the timeout, checking every millisecond.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// scrape reads /metrics, checks every line's syntax and returns the samples keyed by
// "name{labels}" exactly as written.
func scrape(t testing.TB, baseURL string) map[string]float64 {
	t.Helper()
	resp, body := get(t, baseURL+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(body)), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("/metrics: bad line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("/metrics: bad value in %q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// metric returns the sample of name whose only label is model_name=model.
func metric(t testing.TB, samples map[string]float64, name, model string) float64 {
	t.Helper()
	key := name + `{model_name="` + model + `"}`
	v, ok := samples[key]
	if !ok {
		t.Fatalf("/metrics has no %s", key)
	}
	return v
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func gaps(ts []time.Duration) []time.Duration {
	var g []time.Duration
	for i := 1; i < len(ts); i++ {
		g = append(g, ts[i]-ts[i-1])
	}
	return g
}

// attempt collects the timing violations of one run of a measurement.
type attempt struct {
	t    testing.TB
	errs []string
}

func (a *attempt) errorf(format string, args ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, args...))
}

// within records a violation unless lo <= got <= hi.
func (a *attempt) within(what string, got, lo, hi time.Duration) {
	if got < lo || got > hi {
		a.errorf("%s = %s, want in [%s, %s]", what, got, lo, hi)
	}
}

// timingAttempts is how often a timing measurement runs before its violations fail the test.
const timingAttempts = 3

// eventually runs a timing measurement until one run meets all its bounds, at most
// timingAttempts times. A shared 2-core machine can stall any one run by hundreds of
// milliseconds; the model's timing must still show in one of them. Each run should start
// its own server so runs do not share state. Non-timing checks may use t directly.
func eventually(t *testing.T, measure func(a *attempt)) {
	t.Helper()
	for i := 1; ; i++ {
		a := &attempt{t: t}
		measure(a)
		if len(a.errs) == 0 {
			return
		}
		if i == timingAttempts {
			for _, e := range a.errs {
				t.Error(e)
			}
			return
		}
		t.Logf("attempt %d missed its timing bounds (machine busy?), retrying: %s", i, strings.Join(a.errs, "; "))
	}
}

func chatBody(model, user string, maxTokens int) map[string]any {
	b := map[string]any{"model": model, "messages": []map[string]any{{"role": "user", "content": user}}}
	if maxTokens > 0 {
		b["max_tokens"] = maxTokens
	}
	return b
}
