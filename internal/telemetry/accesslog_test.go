package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func jsonFormat(kv ...string) *v1alpha1.LoggingFormat {
	f := &v1alpha1.LoggingFormat{}
	for i := 0; i < len(kv); i += 2 {
		f.JSON = append(f.JSON, v1alpha1.JSONFormatRef{Key: kv[i], Value: kv[i+1]})
	}
	return f
}

func TestJSONTyping(t *testing.T) {
	f, err := NewFormatter(jsonFormat(
		"start", "%START_TIME%",
		"code", "%RESPONSE_CODE%",
		"duration", "%DURATION%",
		"ttfb", "%RESPONSE_DURATION%",
		"rx", "%BYTES_RECEIVED%",
		"tx", "%BYTES_SENT%",
		"retries", "%AIMESH_RETRIES%",
		"method", "%REQ(:METHOD)%",
		"request", "%REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL%",
		"code_text", "code=%RESPONSE_CODE%",
		"missing", "%REQ(X-MISSING)%",
		"missing_in_text", "[%REQ(X-MISSING)%]",
		"literal", "aimesh",
		"model", "%AIMESH_MODEL%",
		"ua", "%REQ(USER-AGENT):4%",
		"svc_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	))
	if err != nil {
		t.Fatal(err)
	}
	line := f.Append(nil, testEntry())
	want := `{"start":"2026-03-07T09:04:05.123Z","code":200,"duration":1234,"ttfb":87,"rx":154,"tx":2048,"retries":2,` +
		`"method":"POST","request":"POST /v1/chat/completions?x=1 HTTP/1.1","code_text":"code=200","missing":null,` +
		`"missing_in_text":"[-]","literal":"aimesh","model":"llama-3-8b","ua":"curl","svc_time":"42"}` + "\n"
	if string(line) != want {
		t.Errorf("json line\n got %s\nwant %s", line, want)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for _, k := range []string{"code", "duration", "ttfb", "rx", "tx", "retries"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, m[k])
		}
	}
	// With no first byte the typed TTFB is null, not "-".
	e := testEntry()
	e.TTFB = 0
	if err := json.Unmarshal(f.Append(nil, e), &m); err != nil || m["ttfb"] != nil {
		t.Errorf("ttfb without a response = %#v (%v), want null", m["ttfb"], err)
	}
}

func TestJSONEscaping(t *testing.T) {
	nasty := "q\"uote \\back\nnew\ttab\x01ctl \u2028 é 日本 \xff end"
	f, err := NewFormatter(jsonFormat(
		`k"ey\`, "%AIMESH_MODEL%",
		"mixed", `lit"eral %AIMESH_MODEL%`,
		"time", `%START_TIME(%Y"%m)%`,
	))
	if err != nil {
		t.Fatal(err)
	}
	e := testEntry()
	e.Model = nasty
	line := f.Append(nil, e)
	if bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line has raw newlines: %q", line)
	}
	var m map[string]string
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	wantModel := strings.ReplaceAll(nasty, "\xff", "\ufffd")
	if m[`k"ey\`] != wantModel {
		t.Errorf("value = %q, want %q", m[`k"ey\`], wantModel)
	}
	if m["mixed"] != `lit"eral `+wantModel {
		t.Errorf("mixed = %q", m["mixed"])
	}
	if m["time"] != `2026"03` {
		t.Errorf("time = %q", m["time"])
	}
	if !bytes.Contains(line, []byte(`\u2028`)) || !bytes.Contains(line, []byte(`\u0001`)) {
		t.Errorf("expected \\u2028 and \\u0001 escapes in %s", line)
	}
}

// syncBuffer is a writer that fails the test if two writes overlap, and
// counts writes that do not end a line.
type syncBuffer struct {
	mu      sync.Mutex
	busy    bool
	buf     bytes.Buffer
	writes  int
	partial int
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.busy {
		b.mu.Unlock()
		return 0, errors.New("concurrent Write")
	}
	b.busy = true
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.busy = false; b.mu.Unlock() }()
	b.writes++
	if len(p) == 0 || p[len(p)-1] != '\n' {
		b.partial++
	}
	return b.buf.Write(p)
}

// TestConcurrentLoggersShareOneWriter logs from several goroutines through
// loggers of one path: unbuffered, every line is its own write; buffered
// (a buffer that holds about one padded line and a timer that keeps firing
// meanwhile), every write is whole lines. Either way no line is lost or
// torn.
func TestConcurrentLoggersShareOneWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  Buffering
	}{
		{"unbuffered", Buffering{}},
		{"buffered", Buffering{FlushInterval: time.Millisecond, Size: 4 << 10}},
		{"default buffering", DefaultBuffering},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opened int
			sink := &syncBuffer{}
			files := NewLogFilesWith(func(path string) (io.Writer, error) {
				opened++
				return sink, nil
			}, nil, tc.buf)
			defer files.Close()

			const loggers, perLogger = 4, 500
			var wg sync.WaitGroup
			for i := range loggers {
				spec := &v1alpha1.FileAccessLog{Path: "/var/log/aimesh/access.log"}
				if i%2 == 1 {
					spec.Path = "/var/log/aimesh/../aimesh/access.log" // same file, other spelling
					spec.Format = jsonFormat("node", "%UPSTREAM_CLUSTER%", "n", "%AIMESH_RETRIES%", "pad", "%REQ(X-PAD)%")
				}
				l, err := NewAccessLogger(spec, files)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				wg.Go(func() {
					for j := range perLogger {
						e := testEntry()
						e.VirtualNode = fmt.Sprintf("node-%d", i)
						e.Retries = j
						e.RequestHeader.Set("X-Pad", strings.Repeat("x", 3000))
						l.Log(e)
					}
				})
			}
			wg.Wait()
			if err := files.Close(); err != nil { // writes out what is buffered
				t.Fatal(err)
			}
			if opened != 1 {
				t.Errorf("opened the file %d times, want 1", opened)
			}
			if tc.buf.FlushInterval == 0 && sink.writes != loggers*perLogger {
				t.Errorf("%d writes, want one per line (%d)", sink.writes, loggers*perLogger)
			}
			if tc.buf.FlushInterval > 0 && sink.writes >= loggers*perLogger {
				t.Errorf("%d writes for %d lines: not batched", sink.writes, loggers*perLogger)
			}
			if sink.partial > 0 {
				t.Errorf("%d of %d writes end mid-line", sink.partial, sink.writes)
			}
			sc := bufio.NewScanner(&sink.buf)
			sc.Buffer(nil, 1<<20)
			lines := 0
			next := map[string]int{} // per logger, the next AIMESH_RETRIES value
			for sc.Scan() {
				lines++
				l := sc.Text()
				if strings.HasPrefix(l, "{") {
					var m struct {
						Node string
						N    int
					}
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Fatalf("torn JSON line %q", l)
					}
					if m.N != next[m.Node] {
						t.Fatalf("%s: line %d after %d: lost or reordered", m.Node, m.N, next[m.Node]-1)
					}
					next[m.Node]++
				} else if !strings.HasPrefix(l, "[2026-") || !strings.HasSuffix(l, `"10.1.2.3:8000"`) {
					t.Fatalf("torn text line %q", l)
				}
			}
			if lines != loggers*perLogger {
				t.Errorf("%d lines, want %d", lines, loggers*perLogger)
			}
		})
	}
}

func TestAccessLoggerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := NewLogFiles(nil, nil)
	text := "%RESPONSE_CODE% %AIMESH_MODEL%"
	a, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path, Format: &v1alpha1.LoggingFormat{Text: &text}}, files)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path, Format: jsonFormat("code", "%RESPONSE_CODE%")}, files)
	if err != nil {
		t.Fatal(err)
	}
	a.Log(testEntry())
	b.Log(testEntry())
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.Close()          // twice is harmless
	b.Log(testEntry()) // b still holds the file
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.Log(testEntry()) // after Close: dropped, no panic
	got, _ := os.ReadFile(path)
	want := "existing\n200 llama-3-8b\n{\"code\":200}\n{\"code\":200}\n"
	if string(got) != want {
		t.Errorf("file =\n%s\nwant\n%s", got, want)
	}
	if len(files.files) != 0 {
		t.Errorf("%d files still open after every logger closed", len(files.files))
	}
}

func TestLogFilesReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	files := NewLogFiles(nil, nil)
	defer files.Close()
	l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path, Format: &v1alpha1.LoggingFormat{Text: new("%RESPONSE_CODE%")}}, files)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Entry{Code: 1})
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	l.Log(&Entry{Code: 2}) // still the rotated file
	if err := files.Reopen(); err != nil {
		t.Fatal(err)
	}
	// Reopen wrote the buffered lines to the rotated file before swapping.
	if old, _ := os.ReadFile(path + ".1"); string(old) != "1\n2\n" {
		t.Errorf("rotated file %q after Reopen, want 1 and 2", old)
	}
	l.Log(&Entry{Code: 3})
	if err := files.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(&Entry{Code: 4}) // dropped
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "1\n2\n" || string(cur) != "3\n" {
		t.Errorf("rotated %q, current %q", old, cur)
	}
	if _, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: path}, files); err == nil {
		t.Error("NewAccessLogger on closed LogFiles: no error")
	}
}

func TestOpenFileStdStreams(t *testing.T) {
	for path, want := range map[string]*os.File{"/dev/stdout": os.Stdout, "/dev/stderr": os.Stderr} {
		w, err := OpenFile(path)
		if err != nil || w != io.Writer(want) {
			t.Errorf("OpenFile(%s) = %v, %v", path, w, err)
		}
	}
	files := NewLogFiles(nil, nil)
	l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: "/dev/stdout"}, files)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil { // must not close os.Stdout
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Errorf("stdout closed: %v", err)
	}
	if _, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: filepath.Join(t.TempDir(), "no", "such", "dir")}, files); err == nil {
		t.Error("opening under a missing directory: no error")
	}
	if _, err := NewAccessLogger(&v1alpha1.FileAccessLog{}, files); err == nil {
		t.Error("empty path: no error")
	}
}

type failingWriter struct{ fail bool }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestWriteErrorsAreLoggedOncePerStreak: a failing disk is reported once,
// its recovery once, and a new failure again; buffered, the report comes
// from the write of the buffer (here forced after each line).
func TestWriteErrorsAreLoggedOncePerStreak(t *testing.T) {
	for name, b := range map[string]Buffering{"unbuffered": {}, "buffered": {FlushInterval: time.Hour}} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			w := &failingWriter{fail: true}
			files := NewLogFilesWith(func(string) (io.Writer, error) { return w, nil }, slog.New(slog.NewTextHandler(&logs, nil)), b)
			defer files.Close()
			l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: "/x"}, files)
			if err != nil {
				t.Fatal(err)
			}
			log := func() {
				l.Log(testEntry())
				files.flush(nil)
			}
			log()
			log()
			w.fail = false
			log()
			w.fail = true
			log()
			out := logs.String()
			if n := strings.Count(out, "access log write failed"); n != 2 {
				t.Errorf("%d failure messages, want 2:\n%s", n, out)
			}
			if !strings.Contains(out, "access log writes recovered") || !strings.Contains(out, "disk full") {
				t.Errorf("missing recovery or cause:\n%s", out)
			}
		})
	}
}

func TestLogDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	for name, format := range map[string]*v1alpha1.LoggingFormat{
		"default": nil,
		"json": jsonFormat("start", "%START_TIME%", "code", "%RESPONSE_CODE%", "req", "%REQ(:METHOD)% %REQ(:PATH)%",
			"ua", "%REQ(USER-AGENT)%", "model", "%AIMESH_MODEL%", "t", "%START_TIME(%s.%3f)%"),
	} {
		// 500 lines overflow the small buffer many times.
		for bname, b := range map[string]Buffering{"unbuffered": {}, "buffered": {FlushInterval: time.Hour, Size: 4 << 10}} {
			files := NewLogFilesWith(func(string) (io.Writer, error) { return io.Discard, nil }, nil, b)
			defer files.Close()
			l, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: "/discard", Format: format}, files)
			if err != nil {
				t.Fatal(err)
			}
			e := testEntry()
			l.Log(e)
			if n := testing.AllocsPerRun(500, func() { l.Log(e) }); n > 0 {
				t.Errorf("%s, %s: %v allocs per Log, want 0", name, bname, n)
			}
		}
	}
}
