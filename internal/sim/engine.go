package sim

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// engine is the scheduler of one server: vLLM-style continuous batching with a FIFO waiting
// queue, a cap on running requests and a KV-cache block pool with prefix caching. It only
// decides admission; the request's own goroutine does the timing (see Server.generate).
type engine struct {
	maxNumSeqs int
	blockSize  int
	met        *metrics

	running atomic.Int64 // read without the lock for the inter-token latency

	mu    sync.Mutex
	queue *list.List // of *seq, FIFO
	kv    *kvCache
}

type seqState int

const (
	seqWaiting seqState = iota
	seqRunning
	seqDone
)

// seq is one request inside the engine.
type seq struct {
	promptTokens int
	hashes       []uint64 // full prompt blocks
	needBlocks   int      // prompt + all output tokens

	admitted chan struct{} // closed on admission

	// Set under engine.mu.
	state        seqState
	elem         *list.Element
	alloc        kvAlloc
	cachedTokens int
	admittedAt   time.Time
}

func newEngine(cfg *Config, met *metrics) *engine {
	return &engine{
		maxNumSeqs: cfg.MaxNumSeqs,
		blockSize:  cfg.BlockSize,
		met:        met,
		queue:      list.New(),
		kv:         newKVCache(cfg.KVBlocks),
	}
}

// newSeq prepares a request with a prompt of promptTokens tokens whose full blocks hash to
// hashes and that will generate up to maxTokens tokens.
func (e *engine) newSeq(promptTokens int, hashes []uint64, maxTokens int) *seq {
	return &seq{
		promptTokens: promptTokens,
		hashes:       hashes,
		needBlocks:   blocksFor(promptTokens+maxTokens, e.blockSize),
		admitted:     make(chan struct{}),
	}
}

func blocksFor(tokens, blockSize int) int {
	return (tokens + blockSize - 1) / blockSize
}

// acquire queues s and waits until it runs or ctx is done. On error s holds nothing.
func (e *engine) acquire(ctx context.Context, s *seq) error {
	e.mu.Lock()
	s.elem = e.queue.PushBack(s)
	e.admitLocked()
	e.mu.Unlock()

	select {
	case <-s.admitted:
		return nil
	case <-ctx.Done():
		e.mu.Lock()
		switch s.state {
		case seqWaiting:
			e.queue.Remove(s.elem)
			s.elem = nil
			s.state = seqDone
			e.admitLocked() // the head may have been the one blocking the others
		case seqRunning:
			e.releaseLocked(s) // admitted while ctx was being cancelled
		}
		e.mu.Unlock()
		return ctx.Err()
	}
}

// release takes s out of the batch and frees its blocks. It is idempotent.
func (e *engine) release(s *seq) {
	e.mu.Lock()
	e.releaseLocked(s)
	e.mu.Unlock()
}

func (e *engine) releaseLocked(s *seq) {
	if s.state != seqRunning {
		return
	}
	s.state = seqDone
	e.kv.release(s.alloc)
	s.alloc = kvAlloc{}
	e.running.Add(-1)
	e.admitLocked()
}

// admitLocked starts waiting requests in FIFO order while there is a batch slot and KV room.
// Like vLLM's FCFS scheduler it stops at the first request that does not fit, so a large
// request at the head holds back smaller ones behind it.
func (e *engine) admitLocked() {
	for e.running.Load() < int64(e.maxNumSeqs) {
		front := e.queue.Front()
		if front == nil {
			return
		}
		s := front.Value.(*seq)
		alloc, hitBlocks, ok := e.kv.allocate(s.hashes, s.needBlocks)
		if !ok {
			return
		}
		e.queue.Remove(front)
		s.elem = nil
		s.alloc = alloc
		// At least one prompt token is always computed, as in vLLM.
		s.cachedTokens = min(hitBlocks*e.blockSize, s.promptTokens-1)
		s.state = seqRunning
		s.admittedAt = time.Now()
		e.running.Add(1)
		e.met.prefixQueries.Add(int64(s.promptTokens))
		e.met.prefixHits.Add(int64(s.cachedTokens))
		close(s.admitted)
	}
}

// engineStats is a consistent view of the scheduler.
type engineStats struct {
	running, waiting       int
	usedBlocks, freeBlocks int
	cachedBlocks           int // blocks with a prefix hash, in use or evictable
	usage                  float64
}

func (e *engine) stats() engineStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return engineStats{
		running:      int(e.running.Load()),
		waiting:      e.queue.Len(),
		usedBlocks:   e.kv.used,
		freeBlocks:   e.kv.available(),
		cachedBlocks: len(e.kv.byHash),
		usage:        e.kv.usage(),
	}
}

func (e *engine) resetPrefixCache() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.kv.reset()
}
