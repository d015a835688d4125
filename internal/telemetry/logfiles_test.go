package telemetry

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func codeLogger(t *testing.T, path string, files *LogFiles) *AccessLogger {
	t.Helper()
	l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path, Format: &v1alpha1.LoggingFormat{Text: new("%RESPONSE_CODE%")}}, files)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s still waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBufferedLinesWaitForTheInterval: a logged line is not written by Log
// but by the flush timer, no earlier than one interval after the file was
// opened, and without any Close.
func TestBufferedLinesWaitForTheInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	path := filepath.Join(t.TempDir(), "access.log")
	files := NewLogFilesWith(nil, nil, Buffering{FlushInterval: interval})
	defer files.Close()
	opened := time.Now() // the flush timer starts after this
	l := codeLogger(t, path, files)
	l.Log(&Entry{Code: 200})
	// Before the first tick can fire, the file must still be empty: if it
	// is not, Log wrote the line itself.
	before := time.Since(opened)
	if got := readFile(t, path); got != "" && before < interval {
		t.Fatalf("line written %s after opening, before the %s interval: %q", before, interval, got)
	}
	waitFor(t, 5*time.Second, "the timer to write the line", func() bool { return readFile(t, path) == "200\n" })
	if took := time.Since(opened); took < interval {
		t.Errorf("line written after %s, sooner than the %s interval", took, interval)
	}
	// The timer keeps running: a later line is written too.
	l.Log(&Entry{Code: 201})
	waitFor(t, 5*time.Second, "the second line", func() bool { return readFile(t, path) == "200\n201\n" })
}

// TestBufferWritesWhenFull: with a timer that never fires, lines are written
// only when the next would overflow the buffer, a line longer than the
// buffer goes straight out after what is pending, and closing the last
// logger writes the rest and stops the timer.
func TestBufferWritesWhenFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	files := NewLogFilesWith(nil, nil, Buffering{FlushInterval: time.Hour, Size: 16})
	defer files.Close()
	l := codeLogger(t, path, files)
	for _, c := range []int{100, 101, 102, 103} { // 4 x 4 bytes: exactly full
		l.Log(&Entry{Code: c})
	}
	if got := readFile(t, path); got != "" {
		t.Fatalf("file before the buffer overflowed: %q", got)
	}
	l.Log(&Entry{Code: 104}) // would overflow: the four lines go out
	if got := readFile(t, path); got != "100\n101\n102\n103\n" {
		t.Fatalf("file after overflow: %q", got)
	}
	long, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path, Format: &v1alpha1.LoggingFormat{Text: new(strings.Repeat("x", 40))}}, files)
	if err != nil {
		t.Fatal(err)
	}
	long.Log(&Entry{}) // longer than the buffer: 104 first, then the long line
	want := "100\n101\n102\n103\n104\n" + strings.Repeat("x", 40) + "\n"
	if got := readFile(t, path); got != want {
		t.Fatalf("file after a long line: %q", got)
	}
	l.Log(&Entry{Code: 105})
	long.Close()
	if got := readFile(t, path); got != want {
		t.Fatalf("closing one of two loggers wrote the buffer: %q", got)
	}
	if files.flusher == nil {
		t.Fatal("no flush goroutine while a file is open")
	}
	l.Close() // the last logger: writes 105 and closes the file
	if got := readFile(t, path); got != want+"105\n" {
		t.Fatalf("file after the last logger closed: %q", got)
	}
	if files.flusher != nil {
		t.Error("flush goroutine still running with no file open")
	}
	// A new logger starts it again.
	l = codeLogger(t, path, files)
	defer l.Close()
	if files.flusher == nil {
		t.Error("no flush goroutine after reopening a file")
	}
}

// TestCloseWritesEverything: LogFiles.Close (the gateway's shutdown) writes
// every file's buffered lines, even while loggers still hold the files.
func TestCloseWritesEverything(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	files := NewLogFiles(nil, nil)
	la, lb := codeLogger(t, a, files), codeLogger(t, b, files)
	for i := 1; i <= 1000; i++ { // about 4 KiB a file: fits the buffers
		la.Log(&Entry{Code: i})
		lb.Log(&Entry{Code: i})
	}
	if err := files.Close(); err != nil {
		t.Fatal(err)
	}
	la.Log(&Entry{Code: 1}) // after Close: dropped
	for _, p := range []string{a, b} {
		lines := strings.Split(strings.TrimSuffix(readFile(t, p), "\n"), "\n")
		for i, l := range lines {
			if l != strconv.Itoa(i+1) {
				t.Fatalf("%s: line %d is %q, want %d", p, i, l, i+1)
			}
		}
		if len(lines) != 1000 {
			t.Errorf("%s: %d lines, want 1000", p, len(lines))
		}
	}
}

func TestBufferingDefaults(t *testing.T) {
	for _, tc := range []struct {
		in, want Buffering
	}{
		{Buffering{}, Buffering{}},
		{Buffering{Size: 100}, Buffering{}}, // no interval: unbuffered
		{Buffering{FlushInterval: -time.Second}, Buffering{}},
		{Buffering{FlushInterval: time.Second}, Buffering{FlushInterval: time.Second, Size: DefaultBufferSize}},
		{Buffering{FlushInterval: 5 * time.Second, Size: 1 << 20}, Buffering{FlushInterval: 5 * time.Second, Size: 1 << 20}},
	} {
		if got := NewLogFilesWith(nil, nil, tc.in).buf; got != tc.want {
			t.Errorf("NewLogFilesWith(%+v) buffers %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if got := NewLogFiles(nil, nil).buf; got != DefaultBuffering {
		t.Errorf("NewLogFiles buffers %+v, want %+v", got, DefaultBuffering)
	}
}
