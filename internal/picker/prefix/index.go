package prefix

import (
	"sync"

	"github.com/aimesh/aimesh/internal/discovery"
)

// DefaultMaxBlocks is the default bound on blocks remembered per endpoint.
const DefaultMaxBlocks = 16384

// BytesPerBlock bounds the memory one remembered block costs when every
// block is held by a single endpoint, the worst case: a 16-byte LRU node
// (its slab never grows past the bound), a 24-byte entry with its 16-byte
// holder array, and a map slot (16 bytes, up to twice that right after the
// map grew). TestMemoryBound measures about 85. An endpoint's share of the
// index is at most its block bound times this: 1.75 MiB at the default
// bound.
const BytesPerBlock = 112

// Index remembers, per endpoint, the prompt blocks aimesh routed there,
// least recently used first out, and finds for a new prompt how many of
// its leading blocks each endpoint was sent. It approximates the model
// servers' prefix caches without asking them. Endpoints are identified by
// their Set slot; one Index serves one discovery.Set. Safe for concurrent
// use.
type Index struct {
	mu       sync.RWMutex
	maxBlock int
	entries  map[uint64]*entry
	spare    []*entry // emptied entries for reuse
	slots    []lru    // by endpoint slot
}

// entry lists the endpoints holding one block hash.
type entry struct{ holders []holder }

type holder struct {
	slot int32
	node int32 // in slots[slot].nodes
}

// lru is one endpoint's blocks, a doubly linked list over a slab.
type lru struct {
	owner      *discovery.Endpoint
	nodes      []node
	head, tail int32 // most and least recently used; -1 when empty
	free       int32 // free list through next; -1 when empty
	n          int
}

type node struct {
	hash       uint64
	prev, next int32
}

// New returns an empty Index that remembers at most maxBlocks blocks per
// endpoint (DefaultMaxBlocks when maxBlocks <= 0).
func New(maxBlocks int) *Index {
	if maxBlocks <= 0 {
		maxBlocks = DefaultMaxBlocks
	}
	return &Index{maxBlock: maxBlocks, entries: map[uint64]*entry{}}
}

// MaxBlocks is the per-endpoint bound.
func (x *Index) MaxBlocks() int { return x.maxBlock }

// Insert records that the blocks with these chained hashes (a prompt's,
// in order) were sent to ep. limit, when positive and below the index's
// bound, caps ep's blocks further (the endpoint's own cache size).
// Earlier blocks end up more recently used than later ones, so an
// endpoint forgets a prompt's tail before its head, as a prefix cache
// does.
func (x *Index) Insert(ep *discovery.Endpoint, hashes []uint64, limit int) {
	if len(hashes) == 0 {
		return
	}
	if limit <= 0 || limit > x.maxBlock {
		limit = x.maxBlock
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.slot(ep)
	l := &x.slots[s]
	for l.n > limit {
		x.evict(int32(s))
	}
	for i := len(hashes) - 1; i >= 0; i-- {
		h := hashes[i]
		e := x.entries[h]
		if e != nil {
			if k := e.find(int32(s)); k >= 0 {
				l.toFront(e.holders[k].node)
				continue
			}
		}
		if l.n >= limit {
			x.evict(int32(s))
			e = x.entries[h] // the evicted block may have emptied e
		}
		if e == nil {
			e = x.newEntry()
			x.entries[h] = e
		}
		e.holders = append(e.holders, holder{slot: int32(s), node: l.push(h, limit)})
	}
}

// Match counts, for each endpoint slot, how many leading blocks of hashes
// were sent to that endpoint, into counts (grown to the slot count and
// cleared first), and returns it. Only endpoints holding the first block
// can match at all, so the walk stops at the first block no endpoint
// extends.
func (x *Index) Match(hashes []uint64, counts []int32) []int32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.slots)
	if cap(counts) < n {
		counts = make([]int32, n)
	}
	counts = counts[:n]
	clear(counts)
	for i, h := range hashes {
		e := x.entries[h]
		if e == nil {
			break
		}
		advanced := false
		for _, hd := range e.holders {
			if counts[hd.slot] == int32(i) {
				counts[hd.slot]++
				advanced = true
			}
		}
		if !advanced {
			break
		}
	}
	return counts
}

// Retain forgets every endpoint that is not in eps (the Set's current
// endpoints), freeing its blocks and its slot's owner.
func (x *Index) Retain(eps []*discovery.Endpoint) {
	x.mu.Lock()
	defer x.mu.Unlock()
	keep := make([]bool, len(x.slots))
	for _, ep := range eps {
		if ep.Slot < len(x.slots) && x.slots[ep.Slot].owner == ep {
			keep[ep.Slot] = true
		}
	}
	for s := range x.slots {
		if !keep[s] && x.slots[s].owner != nil {
			x.clearSlot(int32(s))
		}
	}
}

// Len returns the blocks remembered for ep.
func (x *Index) Len(ep *discovery.Endpoint) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if ep.Slot >= len(x.slots) || x.slots[ep.Slot].owner != ep {
		return 0
	}
	return x.slots[ep.Slot].n
}

// Hashes returns the number of distinct block hashes remembered.
func (x *Index) Hashes() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.entries)
}

// Reset forgets everything.
func (x *Index) Reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries = map[uint64]*entry{}
	x.spare = nil
	x.slots = nil
}

// slot returns ep's slot, claiming it (and dropping a previous owner's
// blocks) when ep does not own it yet.
func (x *Index) slot(ep *discovery.Endpoint) int {
	s := ep.Slot
	for len(x.slots) <= s {
		x.slots = append(x.slots, lru{head: -1, tail: -1, free: -1})
	}
	if x.slots[s].owner != ep {
		if x.slots[s].owner != nil {
			x.clearSlot(int32(s))
		}
		x.slots[s].owner = ep
	}
	return s
}

// clearSlot drops every block of slot s and its owner; the slab is freed
// too, so a departed endpoint costs nothing.
func (x *Index) clearSlot(s int32) {
	l := &x.slots[s]
	for l.n > 0 {
		x.evict(s)
	}
	x.slots[s] = lru{head: -1, tail: -1, free: -1}
}

// evict drops slot s's least recently used block.
func (x *Index) evict(s int32) {
	l := &x.slots[s]
	ni := l.tail
	h := l.nodes[ni].hash
	l.unlink(ni)
	if e := x.entries[h]; e != nil {
		if k := e.find(s); k >= 0 {
			last := len(e.holders) - 1
			e.holders[k] = e.holders[last]
			e.holders = e.holders[:last]
		}
		if len(e.holders) == 0 {
			delete(x.entries, h)
			x.spare = append(x.spare, e)
		}
	}
}

func (x *Index) newEntry() *entry {
	if n := len(x.spare); n > 0 {
		e := x.spare[n-1]
		x.spare = x.spare[:n-1]
		return e
	}
	return &entry{holders: make([]holder, 0, 2)}
}

func (e *entry) find(slot int32) int {
	for k, hd := range e.holders {
		if hd.slot == slot {
			return k
		}
	}
	return -1
}

// push adds hash as the most recently used node and returns its index.
func (l *lru) push(hash uint64, maxCap int) int32 {
	var ni int32
	if l.free >= 0 {
		ni = l.free
		l.free = l.nodes[ni].next
	} else {
		ni = int32(len(l.nodes))
		if len(l.nodes) == cap(l.nodes) {
			// Grow by doubling, but never past the bound.
			grown := make([]node, len(l.nodes), min(max(2*cap(l.nodes), 64), maxCap))
			copy(grown, l.nodes)
			l.nodes = grown
		}
		l.nodes = append(l.nodes, node{})
	}
	l.nodes[ni] = node{hash: hash, prev: -1, next: l.head}
	if l.head >= 0 {
		l.nodes[l.head].prev = ni
	}
	l.head = ni
	if l.tail < 0 {
		l.tail = ni
	}
	l.n++
	return ni
}

// unlink removes node ni and puts it on the free list.
func (l *lru) unlink(ni int32) {
	nd := l.nodes[ni]
	if nd.prev >= 0 {
		l.nodes[nd.prev].next = nd.next
	} else {
		l.head = nd.next
	}
	if nd.next >= 0 {
		l.nodes[nd.next].prev = nd.prev
	} else {
		l.tail = nd.prev
	}
	l.nodes[ni] = node{next: l.free, prev: -1}
	l.free = ni
	l.n--
}

// toFront makes node ni the most recently used.
func (l *lru) toFront(ni int32) {
	if l.head == ni {
		return
	}
	nd := &l.nodes[ni]
	l.nodes[nd.prev].next = nd.next
	if nd.next >= 0 {
		l.nodes[nd.next].prev = nd.prev
	} else {
		l.tail = nd.prev
	}
	nd.prev, nd.next = -1, l.head
	l.nodes[l.head].prev = ni
	l.head = ni
}
