package fastlane

import (
	"context"
	"sync"
)

// reqContext is a request's context: a cancelCtx of its own (so Cause,
// Done and child contexts behave as with net/http's), plus one hook, a
// function run when the request ends. An upstream client that must cut
// its connection when the client hangs up sets the hook (HookCancel)
// instead of calling context.AfterFunc, which allocates five objects per
// call; proxy/h1 does so through its CancelHooker interface.
type reqContext struct {
	context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex // a leaf lock: end runs under the hang-up watcher's
	hook  func()
	id    uint64 // of the hook set last
	ended bool
}

func newReqContext() *reqContext {
	rc := &reqContext{}
	rc.Context, rc.cancel = context.WithCancelCause(context.Background())
	return rc
}

// end cancels the context with cause (nil: context.Canceled) and runs
// the hook, if one is set. Later calls do nothing more.
func (rc *reqContext) end(cause error) {
	rc.cancel(cause)
	rc.mu.Lock()
	f := rc.hook
	rc.hook, rc.ended = nil, true
	rc.mu.Unlock()
	if f != nil {
		f()
	}
}

// HookCancel arranges for f to run once when the request ends, or runs it
// at once when it has ended. It takes one hook at a time: ok is false
// while another is set, and the caller then uses context.AfterFunc.
func (rc *reqContext) HookCancel(f func()) (id uint64, ok bool) {
	rc.mu.Lock()
	if rc.hook != nil {
		rc.mu.Unlock()
		return 0, false
	}
	if rc.ended {
		rc.mu.Unlock()
		f()
		return 0, true // id 0: UnhookCancel reports that f ran
	}
	rc.id++
	rc.hook = f
	id = rc.id
	rc.mu.Unlock()
	return id, true
}

// UnhookCancel removes the hook set by HookCancel(id). It reports whether
// the hook had not run and now will not.
func (rc *reqContext) UnhookCancel(id uint64) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if id == 0 || id != rc.id || rc.hook == nil {
		return false
	}
	rc.hook = nil
	return true
}
