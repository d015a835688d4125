package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// stats summarise a run in simulated (model) time.
type stats struct {
	policy          string
	rate            float64
	sent            int
	p50, p90        time.Duration // TTFT of requests that got a first token; -1: none did
	tokensPerSecond float64
	success         float64
	prefixHits      float64
}

func summarise(r *runResult, timeScale float64) stats {
	st := stats{policy: r.policy, rate: r.rate, sent: r.sent, p50: -1, p90: -1, prefixHits: r.prefixHits}
	var ttfts []time.Duration
	tokens, ok := 0, 0
	for _, o := range r.outcomes {
		if o.ttft >= 0 {
			ttfts = append(ttfts, time.Duration(float64(o.ttft)/timeScale))
		}
		tokens += o.tokens
		if o.complete {
			ok++
		}
	}
	if len(ttfts) > 0 {
		slices.Sort(ttfts)
		st.p50 = percentile(ttfts, 0.50)
		st.p90 = percentile(ttfts, 0.90)
	}
	simWindow := r.window.Seconds() / timeScale
	st.tokensPerSecond = float64(tokens) / simWindow
	if r.sent > 0 {
		st.success = float64(ok) / float64(r.sent)
	}
	return st
}

// percentile of sorted values, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "n/a"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// table renders every run, grouped by rate.
func table(all []stats) string {
	var b strings.Builder
	b.WriteString("| rate (req/s) | policy | requests | TTFT p50 | TTFT p90 | output tokens/s | success | prefix cache hits |\n")
	b.WriteString("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range all {
		fmt.Fprintf(&b, "| %g | %s | %d | %s | %s | %.0f | %.1f%% | %.0f%% |\n",
			s.rate, s.policy, s.sent, fmtDur(s.p50), fmtDur(s.p90), s.tokensPerSecond, 100*s.success, 100*s.prefixHits)
	}
	return b.String()
}

// comparison states, at one rate, inference against the others.
func comparison(all []stats, rate float64) string {
	by := map[string]stats{}
	for _, s := range all {
		if s.rate == rate {
			by[s.policy] = s
		}
	}
	inf, okI := by["inference"]
	rr, okR := by["roundRobin"]
	lr, okL := by["leastRequest"]
	if !okI || !okR || !okL || inf.p90 <= 0 {
		return ""
	}
	return fmt.Sprintf("At %g req/s: inference's p90 TTFT is %.1fx lower than roundRobin's and %.1fx lower than leastRequest's; "+
		"its output tokens/s are %+.0f%% against roundRobin and %+.0f%% against leastRequest.\n",
		rate, float64(rr.p90)/float64(inf.p90), float64(lr.p90)/float64(inf.p90),
		100*(inf.tokensPerSecond/rr.tokensPerSecond-1), 100*(inf.tokensPerSecond/lr.tokensPerSecond-1))
}

const (
	beginMarker = "<!-- routing:begin -->"
	endMarker   = "<!-- routing:end -->"
)

// writeSection puts section between the routing markers of the file at
// path, replacing what was there, or appends it with the markers; other
// sections of the file are left alone.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("update %s: %w", path, err)
	}
	block := beginMarker + "\n" + section + endMarker
	var out []byte
	i, j := bytes.Index(old, []byte(beginMarker)), bytes.Index(old, []byte(endMarker))
	switch {
	case i >= 0 && j > i:
		out = append(append(append([]byte{}, old[:i]...), block...), old[j+len(endMarker):]...)
	case len(old) == 0:
		out = []byte("# Benchmarks\n\n" + block + "\n")
	default:
		out = append(bytes.TrimRight(old, "\n"), []byte("\n\n"+block+"\n")...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}
