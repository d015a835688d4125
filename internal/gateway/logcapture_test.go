package gateway_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logCapture is a slog.Handler that remembers every message, so tests can
// wait for the gateway to say it finished something (a reload, a
// rejection) instead of sleeping.
type logCapture struct {
	mu   *sync.Mutex
	msgs *[]string
	next slog.Handler
}

func newLogCapture() *logCapture {
	return &logCapture{mu: new(sync.Mutex), msgs: new([]string), next: testLog().Handler()}
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.msgs = append(*h.msgs, r.Message)
	h.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *logCapture) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

func (h *logCapture) logger() *slog.Logger { return slog.New(h) }

// count is how many messages so far start with prefix.
func (h *logCapture) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range *h.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// waitCount waits until at least n messages start with prefix.
func (h *logCapture) waitCount(t testing.TB, prefix string, n int, d time.Duration) {
	t.Helper()
	eventually(t, d, "log message "+prefix, func() bool { return h.count(prefix) >= n })
}
