package telemetry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// OpenFunc opens the writer behind an access log path. If the writer is an
// io.Closer it is closed when the last logger using the path is closed.
type OpenFunc func(path string) (io.Writer, error)

// OpenFile is the default OpenFunc: /dev/stdout and /dev/stderr are the
// process's standard output and error (never closed); any other path is
// created if needed and opened for appending.
func OpenFile(path string) (io.Writer, error) {
	switch path {
	case "/dev/stdout":
		return os.Stdout, nil
	case "/dev/stderr":
		return os.Stderr, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	return f, nil
}

// Buffering says how access log lines reach their files. The zero value
// writes every line at once with its own write (one system call per
// request); DefaultBuffering batches them as Envoy and nginx do.
type Buffering struct {
	// FlushInterval is the longest a line waits in memory: every interval
	// one goroutine per LogFiles writes out each file's buffer. 0 disables
	// buffering (Size is then ignored).
	FlushInterval time.Duration
	// Size is each file's buffer in bytes (0: DefaultBufferSize). A line
	// that would overflow the buffer writes it out first; a line longer
	// than the buffer is written on its own.
	Size int
}

// Defaults of Buffering, as nginx's `access_log ... buffer=64k flush=1s`.
const (
	DefaultFlushInterval = time.Second
	DefaultBufferSize    = 64 << 10
)

// DefaultBuffering is what NewLogFiles uses.
var DefaultBuffering = Buffering{FlushInterval: DefaultFlushInterval, Size: DefaultBufferSize}

// LogFiles is the set of open access log files, owned by the gateway. Every
// AccessLogger for the same path shares one writer, one buffer and one
// lock, so lines from different virtual nodes, gateways or snapshots never
// interleave, and every write holds whole lines. Files are reference
// counted: one stays open while any logger uses it, so a reload that
// creates the new snapshot's loggers before closing the old ones keeps
// files open across the swap.
//
// Buffered lines are written when a file's buffer would overflow, by the
// flush goroutine every FlushInterval (it runs while any file is open), on
// Reopen (to the old file), and when a file is closed (by its last logger
// or by Close). A process that exits without Close loses at most one
// interval of lines.
type LogFiles struct {
	open OpenFunc
	log  *slog.Logger
	buf  Buffering

	mu      sync.Mutex
	files   map[string]*sharedFile
	closed  bool
	flusher *flusher // running while buffered files are open
}

// NewLogFiles returns an empty set with DefaultBuffering. A nil open means
// OpenFile; a nil logger means slog.Default() (it reports write failures,
// once per failure streak).
func NewLogFiles(open OpenFunc, logger *slog.Logger) *LogFiles {
	return NewLogFilesWith(open, logger, DefaultBuffering)
}

// NewLogFilesWith is NewLogFiles with the given buffering; Buffering{}
// writes every line at once.
func NewLogFilesWith(open OpenFunc, logger *slog.Logger, b Buffering) *LogFiles {
	if open == nil {
		open = OpenFile
	}
	if logger == nil {
		logger = slog.Default()
	}
	if b.FlushInterval <= 0 {
		b = Buffering{}
	} else if b.Size <= 0 {
		b.Size = DefaultBufferSize
	}
	return &LogFiles{open: open, log: logger, buf: b, files: make(map[string]*sharedFile)}
}

type sharedFile struct {
	key  string
	path string
	log  *slog.Logger
	refs int // guarded by LogFiles.mu

	mu      sync.Mutex
	w       io.Writer // nil once closed
	buf     []byte    // pending whole lines; nil when unbuffered
	failing bool
}

func fileKey(path string) string {
	if path == "/dev/stdout" || path == "/dev/stderr" {
		return path
	}
	return filepath.Clean(path)
}

func (lf *LogFiles) acquire(path string) (*sharedFile, error) {
	key := fileKey(path)
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.closed {
		return nil, errors.New("access log files are closed")
	}
	if f, ok := lf.files[key]; ok {
		f.refs++
		return f, nil
	}
	w, err := lf.open(path)
	if err != nil {
		return nil, err
	}
	f := &sharedFile{key: key, path: path, log: lf.log, refs: 1, w: w}
	if lf.buf.FlushInterval > 0 {
		f.buf = make([]byte, 0, lf.buf.Size)
		if lf.flusher == nil {
			lf.flusher = startFlusher(lf, lf.buf.FlushInterval)
		}
	}
	lf.files[key] = f
	return f, nil
}

func (lf *LogFiles) release(f *sharedFile) error {
	lf.mu.Lock()
	f.refs--
	if f.refs > 0 || lf.files[f.key] != f {
		lf.mu.Unlock()
		return nil
	}
	delete(lf.files, f.key)
	var fl *flusher
	if len(lf.files) == 0 {
		fl, lf.flusher = lf.flusher, nil
	}
	lf.mu.Unlock()
	fl.stop()
	return f.close()
}

// Reopen writes out each file's buffer and reopens it, keeping the old
// writer of any that fails. Call it after log rotation has moved the files
// (e.g. on SIGHUP): lines logged before Reopen land in the old file.
func (lf *LogFiles) Reopen() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	var errs []error
	for _, f := range lf.files {
		w, err := lf.open(f.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		f.flushLocked()
		old := f.w
		f.w = w
		f.mu.Unlock()
		if err := closeWriter(old); err != nil {
			errs = append(errs, fmt.Errorf("close access log %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}

// Close writes out and closes every file; loggers still holding one drop
// their lines. Call it at shutdown, after the last request was logged.
func (lf *LogFiles) Close() error {
	lf.mu.Lock()
	files := lf.files
	lf.files = map[string]*sharedFile{}
	lf.closed = true
	fl := lf.flusher
	lf.flusher = nil
	lf.mu.Unlock()
	fl.stop()
	var errs []error
	for _, f := range files {
		if err := f.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flush writes out every file's buffer. scratch is reused between calls.
func (lf *LogFiles) flush(scratch []*sharedFile) []*sharedFile {
	scratch = scratch[:0]
	lf.mu.Lock()
	for _, f := range lf.files {
		scratch = append(scratch, f)
	}
	lf.mu.Unlock()
	for i, f := range scratch {
		f.mu.Lock()
		f.flushLocked()
		f.mu.Unlock()
		scratch[i] = nil
	}
	return scratch
}

// flusher is the goroutine that writes buffered lines every interval.
type flusher struct {
	quit chan struct{}
	done chan struct{}
}

func startFlusher(lf *LogFiles, every time.Duration) *flusher {
	fl := &flusher{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var scratch []*sharedFile
		for {
			select {
			case <-t.C:
				scratch = lf.flush(scratch)
			case <-fl.quit:
				return
			}
		}
	}()
	return fl
}

// stop ends the goroutine and waits for it; a nil flusher is a no-op. It
// must not be called with LogFiles.mu held.
func (fl *flusher) stop() {
	if fl == nil {
		return
	}
	close(fl.quit)
	<-fl.done
}

// write adds one whole line to the file's buffer under its lock, writing
// the buffer out first if the line would overflow it. Unbuffered, and for
// a line longer than the buffer, the line is one Write of its own.
func (f *sharedFile) write(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return
	}
	if f.buf == nil {
		f.writeLocked(p)
		return
	}
	if len(f.buf)+len(p) > cap(f.buf) {
		f.flushLocked()
		if len(p) > cap(f.buf) {
			f.writeLocked(p)
			return
		}
	}
	f.buf = append(f.buf, p...)
}

// flushLocked writes out the buffer. On an error its lines are dropped
// (the failure is reported), so a broken disk does not grow memory.
func (f *sharedFile) flushLocked() {
	if len(f.buf) == 0 || f.w == nil {
		return
	}
	f.writeLocked(f.buf)
	f.buf = f.buf[:0]
}

// writeLocked writes p, reporting the first failure of a streak and the
// recovery after it.
func (f *sharedFile) writeLocked(p []byte) {
	_, err := f.w.Write(p)
	switch {
	case err != nil && !f.failing:
		f.failing = true
		f.log.Warn("access log write failed", "path", f.path, "err", err)
	case err == nil && f.failing:
		f.failing = false
		f.log.Info("access log writes recovered", "path", f.path)
	}
}

func (f *sharedFile) close() error {
	f.mu.Lock()
	f.flushLocked()
	w := f.w
	f.w = nil
	f.buf = nil
	f.mu.Unlock()
	if err := closeWriter(w); err != nil {
		return fmt.Errorf("close access log %s: %w", f.path, err)
	}
	return nil
}

func closeWriter(w io.Writer) error {
	if w == nil || w == os.Stdout || w == os.Stderr {
		return nil
	}
	if c, ok := w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
