package telemetry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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

// LogFiles is the set of open access log files, owned by the gateway. Every
// AccessLogger for the same path shares one writer and one lock, so lines
// from different virtual nodes, gateways or snapshots never interleave.
// Files are reference counted: one stays open while any logger uses it, so
// a reload that creates the new snapshot's loggers before closing the old
// ones keeps files open across the swap.
type LogFiles struct {
	open OpenFunc
	log  *slog.Logger

	mu     sync.Mutex
	files  map[string]*sharedFile
	closed bool
}

// NewLogFiles returns an empty set. A nil open means OpenFile; a nil logger
// means slog.Default() (it reports write failures, once per failure streak).
func NewLogFiles(open OpenFunc, logger *slog.Logger) *LogFiles {
	if open == nil {
		open = OpenFile
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &LogFiles{open: open, log: logger, files: make(map[string]*sharedFile)}
}

type sharedFile struct {
	key  string
	path string
	log  *slog.Logger
	refs int // guarded by LogFiles.mu

	mu      sync.Mutex
	w       io.Writer // nil once closed
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
	lf.mu.Unlock()
	return f.close()
}

// Reopen reopens every open file, keeping the old writer of any that fails.
// Call it after log rotation has moved the files (e.g. on SIGHUP).
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
		old := f.w
		f.w = w
		f.mu.Unlock()
		if err := closeWriter(old); err != nil {
			errs = append(errs, fmt.Errorf("close access log %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every file; loggers still holding one drop their lines.
func (lf *LogFiles) Close() error {
	lf.mu.Lock()
	files := lf.files
	lf.files = map[string]*sharedFile{}
	lf.closed = true
	lf.mu.Unlock()
	var errs []error
	for _, f := range files {
		if err := f.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// write writes one whole line with a single Write under the file's lock.
func (f *sharedFile) write(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return
	}
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
	w := f.w
	f.w = nil
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
