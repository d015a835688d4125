package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "benchmarks.md")
	if err := writeSection(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	other := "## Overhead\n\n<!-- overhead:begin -->\nnumbers\n<!-- overhead:end -->\n"
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte(other+"\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "second\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	s := string(got)
	if !strings.Contains(s, other) || !strings.Contains(s, beginMarker+"\nsecond\n"+endMarker) || strings.Contains(s, "first") {
		t.Fatalf("file after replace:\n%s", s)
	}
	if strings.Count(s, beginMarker) != 1 {
		t.Fatalf("markers duplicated:\n%s", s)
	}
	// A file without the markers gets the section appended.
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "third\n"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if !strings.HasPrefix(string(got), other) || !strings.Contains(string(got), "third") {
		t.Fatalf("file after append:\n%s", got)
	}
}

func TestScheduleIsReproducible(t *testing.T) {
	w := workload{tenants: 4, contextTokens: 100, questionTokens: 10, outputTokens: 5, seed: 7}
	ctxs := w.contexts()
	a := w.schedule(ctxs, 20, 10*time.Second)
	b := w.schedule(ctxs, 20, 10*time.Second)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("schedules of %d and %d arrivals", len(a), len(b))
	}
	for i := range a {
		if a[i].at != b[i].at || a[i].tenant != b[i].tenant || string(a[i].body) != string(b[i].body) {
			t.Fatalf("arrival %d differs", i)
		}
	}
	if n := len(a); n < 150 || n > 250 {
		t.Fatalf("%d arrivals at 20/s for 10s", n)
	}
	for _, c := range ctxs {
		if len(c) != 400 {
			t.Fatalf("context of %d bytes, want 100 tokens of 4", len(c))
		}
	}
}

func TestPercentile(t *testing.T) {
	v := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	slices.Sort(v)
	if percentile(v, 0.5) != 5 || percentile(v, 0.9) != 9 || percentile(v[:1], 0.9) != 1 {
		t.Fatal("nearest-rank percentiles")
	}
}

func TestSaturating(t *testing.T) {
	all := []stats{
		{policy: "roundRobin", rate: 10, tokensPerSecond: 240, success: 1},
		{policy: "inference", rate: 10, tokensPerSecond: 240, success: 1},
		{policy: "roundRobin", rate: 20, tokensPerSecond: 470, success: 1},
		{policy: "roundRobin", rate: 30, tokensPerSecond: 600, success: 1},
		{policy: "roundRobin", rate: 40, tokensPerSecond: 610, success: 0.9},
	}
	if got := saturating(all, []float64{10, 20, 30, 40}, 24); got != 30 {
		t.Fatalf("saturating = %g, want 30 (600 < 90%% of 720)", got)
	}
	if got := saturating(all[:3], []float64{10, 20}, 24); got != 20 {
		t.Fatalf("never saturated: want the last rate, got %g", got)
	}
}
