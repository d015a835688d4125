package h1

import "context"

// CancelHooker is a context that runs a function when it ends at less
// cost than context.AfterFunc, which allocates an afterFunc context, its
// stop function, the parent's Done channel and child set on every call.
// The fast lane's request contexts are CancelHookers: an exchange then
// costs them no allocation to watch.
type CancelHooker interface {
	// HookCancel arranges for f to run once when the context ends; it
	// runs f at once, on the caller's goroutine, when the context has
	// ended already. ok is false when the context takes no more hooks.
	HookCancel(f func()) (id uint64, ok bool)
	// UnhookCancel undoes HookCancel(id): it reports whether f had not
	// run and now will not.
	UnhookCancel(id uint64) bool
}

// ctxWatch runs a connection's cancel when its request's context ends,
// through the context's CancelHooker when it is one, else through
// context.AfterFunc. The zero value watches nothing.
type ctxWatch struct {
	hooker CancelHooker
	id     uint64
	stop   func() bool
}

// watchCtx runs f when ctx ends, until end is called.
func watchCtx(ctx context.Context, f func()) ctxWatch {
	if h, ok := ctx.(CancelHooker); ok {
		if id, ok := h.HookCancel(f); ok {
			return ctxWatch{hooker: h, id: id}
		}
	}
	if ctx.Done() == nil {
		return ctxWatch{} // never ends
	}
	return ctxWatch{stop: context.AfterFunc(ctx, f)}
}

// end stops the watch; it reports whether f ran (or is running) because
// the context ended. Calling it again reports false.
func (w *ctxWatch) end() (fired bool) {
	switch {
	case w.hooker != nil:
		fired = !w.hooker.UnhookCancel(w.id)
	case w.stop != nil:
		fired = !w.stop()
	}
	*w = ctxWatch{}
	return fired
}
