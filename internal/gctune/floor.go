package gctune

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
)

// maxPercent bounds the GC percentage Floor sets: with a live heap of a
// few hundred KiB (a fresh process) the exact percentage would be huge
// and mean nothing more.
const maxPercent = 100_000

// runtimeHeapMinimum is the runtime's smallest heap goal at GOGC=100 (4
// MiB); it scales with the GC percentage, so a percentage above
// floor/runtimeHeapMinimum*100 would put the goal above the floor.
const runtimeHeapMinimum = 4 << 20

// metric names read after each collection.
const (
	liveHeap = "/gc/heap/live:bytes"
	stacks   = "/gc/scan/stack:bytes"
	globals  = "/gc/scan/globals:bytes"
)

// Floor keeps the heap goal at or above a number of bytes: see the
// package documentation.
type Floor struct {
	min  uint64
	base int // the GC percentage the process started with (GOGC)
	log  *slog.Logger

	mu      sync.Mutex
	percent int
	stopped bool
	samples []metrics.Sample
}

// StartFloor starts keeping the heap goal at or above min bytes until
// Stop. It returns nil, and changes nothing, when min is 0 or GOGC turns
// the collector off. A GOGC that is not a number is an error, as the
// runtime would ignore it.
func StartFloor(min uint64, log *slog.Logger) (*Floor, error) {
	base, on, err := gogc(os.Getenv("GOGC"))
	if err != nil || !on || min == 0 {
		return nil, err
	}
	f := &Floor{min: min, base: base, log: log, percent: base,
		samples: []metrics.Sample{{Name: liveHeap}, {Name: stacks}, {Name: globals}}}
	f.arm()
	f.adjust() // the live heap of the last collection, if there was one
	return f, nil
}

// gogc reads the GOGC environment variable as the runtime does: empty
// means 100, "off" turns collection off.
func gogc(v string) (percent int, on bool, err error) {
	switch v {
	case "":
		return 100, true, nil
	case "off":
		return 0, false, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil {
		return 0, false, fmt.Errorf("GOGC=%q: want a number or off", v)
	}
	return p, p >= 0, nil
}

// sentinel is an object that only a finished collection frees: its
// cleanup is how Floor learns that a cycle ended. It is big enough to get
// an allocation of its own (the tiny allocator packs smaller pointer-free
// objects together, and those may never be freed one by one).
type sentinel struct{ _ [32]byte }

// arm sets a cleanup on a fresh sentinel that nothing references: the
// next collection frees it, and the cleanup adjusts the percentage and
// arms again.
func (f *Floor) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(f *Floor) {
		f.mu.Lock()
		stopped := f.stopped
		f.mu.Unlock()
		if stopped {
			return
		}
		f.adjust()
		f.arm()
	}, f)
}

// Percent is the GC percentage the floor last set.
func (f *Floor) Percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent
}

// adjust sets the percentage from the last collection's live heap. The
// runtime's goal is live + (live + stacks + globals) * percent / 100, and
// at least runtimeHeapMinimum * percent / 100.
func (f *Floor) adjust() {
	f.mu.Lock() // samples too: StartFloor's adjust may meet the first cleanup's
	defer f.mu.Unlock()
	metrics.Read(f.samples)
	live, roots := f.samples[0].Value.Uint64(), f.samples[1].Value.Uint64()+f.samples[2].Value.Uint64()
	want := f.base
	if scanned := live + roots; scanned > 0 && live < f.min {
		p := min((f.min-live)*100/scanned, f.min*100/runtimeHeapMinimum, maxPercent)
		want = max(want, int(p))
	}
	if f.stopped || !worthChanging(f.percent, want) {
		return
	}
	f.percent = want
	debug.SetGCPercent(want)
}

// worthChanging ignores moves of less than a tenth: the live heap wobbles
// from cycle to cycle, and a goal a few percent off changes nothing.
func worthChanging(cur, want int) bool {
	d := cur - want
	if d < 0 {
		d = -d
	}
	return d*10 > cur || (d > 0 && cur < 10)
}

// Stop sets the GC percentage back to what GOGC says and stops adjusting
// it. A nil Floor has nothing to stop.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	f.percent = f.base
	debug.SetGCPercent(f.base)
	if f.log != nil {
		f.log.Debug("GC heap floor off", "gc_percent", f.base)
	}
}
