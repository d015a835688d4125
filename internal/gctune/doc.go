// Package gctune paces Go's garbage collector for a proxy.
//
// A proxy keeps a small live heap (routes, pools, a few MiB) and makes a
// few KiB of short-lived garbage per request. Go's default pacing
// (GOGC=100: collect when the heap has grown by the live heap) then runs
// a collection every few MiB of allocation: dozens a second at 15,000
// requests a second, a tenth of the process's CPU spent marking and
// sweeping the same small heap again and again.
//
// Floor puts a floor under the heap goal instead: after every collection
// it sets the GC percentage so that the next collection starts when the
// heap reaches the floor, or the default goal if that is higher. A
// process whose live heap is far below the floor collects once per floor
// of allocation; one whose live heap is above it (many open streams) is
// paced exactly as GOGC says. The floor costs at most its size in
// resident memory, and the soft memory limit (GOMEMLIMIT, or the one
// MemoryLimitFromCgroup finds for a container) still bounds the total:
// near the limit the collector runs as often as it needs to.
//
// The percentage is set from each collection's live heap and applies to
// the next: when the live heap jumps between two collections (thousands
// of streams opening at once), the goal the runtime computes at the end
// of the second is briefly up to floor/4 MiB times the live heap, until
// the floor's cleanup, which runs right after that collection, sets the
// percentage back. Only what is allocated in that moment (milliseconds)
// comes of it.
package gctune
