package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteDocKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	section := func(body string) string { return beginMark + "\n" + body + "\n" + endMark + "\n" }
	if err := writeDoc(path, section("first")); err != nil {
		t.Fatal(err)
	}
	// Another section appended by someone else, then two rewrites of ours.
	b, _ := os.ReadFile(path)
	other := "\n<!-- routing:begin -->\nrouting\n<!-- routing:end -->\n"
	if err := os.WriteFile(path, append(b, other...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"second", "third"} {
		if err := writeDoc(path, section(body)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmarks\n\n" + section("third") + other
	if string(got) != want {
		t.Fatalf("file:\n%q\nwant:\n%q", got, want)
	}
}

func TestWriteDocAppendsWithoutMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\nrouting\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, beginMark+"\nx\n"+endMark+"\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "# Benchmarks\n\nrouting\n\n" + beginMark + "\nx\n" + endMark + "\n"; string(got) != want {
		t.Fatalf("file:\n%q\nwant:\n%q", got, want)
	}
}

func TestQuantileAndAddedMedian(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	d := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	if q := quantile(d, 0.5); q != 5*time.Millisecond {
		t.Errorf("p50 %s, want 5ms", q)
	}
	if q := quantile(d, 0.99); q != 10*time.Millisecond {
		t.Errorf("p99 %s, want 10ms", q)
	}
	base := &phaseStats{rounds: [][3]time.Duration{{1, 1, 1}, {1, 1, 100}, {1, 1, 1}}}
	s := &phaseStats{rounds: [][3]time.Duration{{3, 3, 5}, {3, 3, 5}, {9, 9, 500}}}
	// p99 differences per round: 4, -95, 499; the median ignores both outliers.
	if a := addedMedian(s, base, 2); a != 4 {
		t.Errorf("added p99 %d, want 4", a)
	}
	if !strings.Contains(us(1500*time.Microsecond), "1500") {
		t.Errorf("us(1.5ms) = %q", us(1500*time.Microsecond))
	}
}
