package proxy

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aimesh/aimesh/internal/hangup"
)

// Streams tracks the streams in flight, so that a drain can wait for them
// and cut those left at its deadline.
type Streams struct {
	mu     sync.Mutex
	m      map[*Stream]struct{}
	wakeup chan struct{}   // closed when the last stream ends, while Drain waits
	hang   *hangup.Watcher // notices clients that hang up while their stream is quiet
}

// NewStreams returns an empty registry.
func NewStreams(log *slog.Logger) *Streams {
	return &Streams{m: map[*Stream]struct{}{}, hang: hangup.New(log)}
}

// Len is the number of streams in flight.
func (ss *Streams) Len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// Drain waits for the streams in flight to end. When ctx ends first it cuts
// the rest (their clients see the connection close mid-stream), waits for
// them to finish and returns ctx's error.
func (ss *Streams) Drain(ctx context.Context) error {
	if ss.wait(ctx) {
		return nil
	}
	ss.mu.Lock()
	for s := range ss.m {
		s.cut.Store(true)
		s.up.Close()
		if !s.handedBack {
			s.client.Close()
		}
	}
	ss.mu.Unlock()
	ss.wait(context.Background())
	return ctx.Err()
}

// wait reports whether every stream ended before ctx did.
func (ss *Streams) wait(ctx context.Context) bool {
	ss.mu.Lock()
	if len(ss.m) == 0 {
		ss.mu.Unlock()
		return true
	}
	if ss.wakeup == nil {
		ss.wakeup = make(chan struct{})
	}
	ch := ss.wakeup
	ss.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

func (ss *Streams) add(s *Stream) {
	ss.mu.Lock()
	ss.m[s] = struct{}{}
	ss.mu.Unlock()
}

func (ss *Streams) remove(s *Stream) {
	ss.mu.Lock()
	delete(ss.m, s)
	if len(ss.m) == 0 && ss.wakeup != nil {
		close(ss.wakeup)
		ss.wakeup = nil
	}
	ss.mu.Unlock()
}

// handBack marks s's client connection as no longer the stream's, unless
// a drain cut the stream first.
func (ss *Streams) handBack(s *Stream) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.cut.Load() {
		return false
	}
	s.handedBack = true
	return true
}
