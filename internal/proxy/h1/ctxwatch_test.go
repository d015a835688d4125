package h1

import (
	"context"
	"testing"
	"time"
)

// hooker is a CancelHooker with one slot, like the fast lane's contexts.
type hooker struct {
	context.Context
	f  func()
	id uint64
}

func (h *hooker) HookCancel(f func()) (uint64, bool) {
	if h.f != nil {
		return 0, false
	}
	h.id++
	h.f = f
	return h.id, true
}

func (h *hooker) UnhookCancel(id uint64) bool {
	if h.f == nil || id != h.id {
		return false
	}
	h.f = nil
	return true
}

func TestCtxWatch(t *testing.T) {
	t.Run("a CancelHooker takes the hook", func(t *testing.T) {
		h := &hooker{Context: context.Background()}
		w := watchCtx(h, func() {})
		if h.f == nil || w.stop != nil {
			t.Fatal("the watch did not use HookCancel")
		}
		if w.end() || h.f != nil {
			t.Error("end of a watch whose context did not end: reported fired, or left the hook set")
		}
	})
	t.Run("a full CancelHooker falls back to AfterFunc", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		h := &hooker{Context: ctx, f: func() {}}
		ran := make(chan struct{})
		w := watchCtx(h, func() { close(ran) })
		cancel()
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("the AfterFunc fallback did not run when the context ended")
		}
		if !w.end() {
			t.Error("end after the context ended reported that nothing fired")
		}
	})
	t.Run("a context that never ends is not watched", func(t *testing.T) {
		w := watchCtx(context.Background(), func() { t.Error("ran") })
		if w.end() {
			t.Error("end reported a fired watch on a context that cannot end")
		}
	})
}
