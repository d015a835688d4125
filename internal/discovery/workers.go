package discovery

import (
	"context"
	"sync"
	"time"
)

// Workers runs one goroutine per endpoint of a Set (a metrics collector, a
// health checker) and follows the Set: a worker starts when its endpoint
// joins and is stopped when it leaves. Membership is checked every poll
// interval through the Set's version, so a quiet Set costs one atomic
// load per interval.
type Workers struct {
	set     *Set
	run     func(ctx context.Context, ep *Endpoint)
	stopped func(ep *Endpoint)
	cancel  context.CancelFunc
	done    chan struct{}

	mu   sync.Mutex
	runs map[*Endpoint]*worker
}

type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartWorkers starts run(ctx, ep) for every endpoint of set now and for
// every endpoint that joins later, until Close. run must return when ctx
// ends; stopped, if not nil, is called after a worker returned because its
// endpoint left or Close was called.
func StartWorkers(set *Set, poll time.Duration, run func(ctx context.Context, ep *Endpoint), stopped func(ep *Endpoint)) *Workers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Workers{set: set, run: run, stopped: stopped, cancel: cancel, done: make(chan struct{}), runs: map[*Endpoint]*worker{}}
	seen := set.Version()
	w.reconcile(ctx)
	go w.follow(ctx, poll, seen)
	return w
}

func (w *Workers) follow(ctx context.Context, poll time.Duration, seen int64) {
	defer close(w.done)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if v := w.set.Version(); v != seen {
				seen = v
				w.reconcile(ctx)
			}
		}
	}
}

// reconcile starts workers for new endpoints and stops departed ones'.
func (w *Workers) reconcile(ctx context.Context) {
	eps := w.set.Endpoints()
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := make(map[*Endpoint]bool, len(eps))
	for _, ep := range eps {
		cur[ep] = true
		if _, ok := w.runs[ep]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		r := &worker{cancel: cancel, done: make(chan struct{})}
		w.runs[ep] = r
		go func() {
			defer close(r.done)
			w.run(wctx, ep)
		}()
	}
	for ep, r := range w.runs {
		if !cur[ep] {
			w.stop(ep, r)
		}
	}
}

func (w *Workers) stop(ep *Endpoint, r *worker) {
	r.cancel()
	<-r.done
	delete(w.runs, ep)
	if w.stopped != nil {
		w.stopped(ep)
	}
}

// Len returns the number of running workers.
func (w *Workers) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.runs)
}

// Close stops every worker and waits for them.
func (w *Workers) Close() {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for ep, r := range w.runs {
		w.stop(ep, r)
	}
}
