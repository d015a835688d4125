package sim

import "container/list"

// kvCache is the block pool of one server, with prefix caching. It is not safe for concurrent
// use: the engine holds its lock around every call.
//
// Every block is in exactly one of three states:
//   - free: never used, or held only by output/partial blocks that were released (counted by free);
//   - cached: full prompt block with a hash and no reference, reusable by a later prompt with the
//     same prefix, evictable in LRU order (in lru, and in byHash);
//   - in use: referenced by at least one running request (in byHash if it has a hash).
//
// free + lru.Len() + used == total always holds.
type kvCache struct {
	total  int
	free   int
	used   int
	byHash map[uint64]*kvBlock
	lru    *list.List // of *kvBlock with ref 0; front is the least recently used
}

type kvBlock struct {
	hash uint64
	ref  int
	elem *list.Element // in lru when ref == 0
}

// kvAlloc is what one request holds.
type kvAlloc struct {
	hashed []*kvBlock // one per full prompt block, in prompt order
	anon   int        // partial prompt block and output blocks
}

func newKVCache(total int) *kvCache {
	return &kvCache{total: total, free: total, byHash: make(map[uint64]*kvBlock), lru: list.New()}
}

// available is the number of blocks a new allocation can take (free or evictable).
func (c *kvCache) available() int { return c.free + c.lru.Len() }

// usage is the fraction of blocks in use (vllm:kv_cache_usage_perc).
func (c *kvCache) usage() float64 { return float64(c.used) / float64(c.total) }

// cachedPrefix returns how many leading hashes are cached (in use or evictable).
func (c *kvCache) cachedPrefix(hashes []uint64) int {
	n := 0
	for _, h := range hashes {
		if c.byHash[h] == nil {
			break
		}
		n++
	}
	return n
}

// allocate takes blocks for a request whose prompt has the given full-block hashes and which
// needs need blocks in all. It returns the allocation and the number of leading prompt blocks
// that were already cached, or ok=false (and changes nothing) when the pool cannot fit it.
func (c *kvCache) allocate(hashes []uint64, need int) (a kvAlloc, hitBlocks int, ok bool) {
	need = max(need, len(hashes))
	// Blocks this request takes out of the available pool: every hash not cached or cached with
	// no reference (taking it out of the LRU), plus the unhashed blocks.
	take := need - len(hashes)
	for _, h := range hashes {
		if b := c.byHash[h]; b == nil || b.ref == 0 {
			take++
		}
	}
	if take > c.available() {
		return kvAlloc{}, 0, false
	}
	hitBlocks = c.cachedPrefix(hashes)
	a.hashed = make([]*kvBlock, len(hashes))
	// First reference every cached block of this prompt, so evictions below cannot take them.
	for i, h := range hashes {
		if b := c.byHash[h]; b != nil {
			c.ref(b)
			a.hashed[i] = b
		}
	}
	for i, h := range hashes {
		if a.hashed[i] != nil {
			continue
		}
		if b := c.byHash[h]; b != nil { // a repeated hash within this prompt
			c.ref(b)
			a.hashed[i] = b
			continue
		}
		c.takeBlock()
		b := &kvBlock{hash: h, ref: 1}
		c.byHash[h] = b
		c.used++
		a.hashed[i] = b
	}
	a.anon = need - len(hashes)
	for range a.anon {
		c.takeBlock()
	}
	c.used += a.anon
	return a, hitBlocks, true
}

func (c *kvCache) ref(b *kvBlock) {
	if b.ref == 0 {
		c.lru.Remove(b.elem)
		b.elem = nil
		c.used++
	}
	b.ref++
}

// takeBlock removes one block from the available pool: a free one if any, else it evicts the
// least recently used cached block.
func (c *kvCache) takeBlock() {
	if c.free > 0 {
		c.free--
		return
	}
	e := c.lru.Front()
	b := c.lru.Remove(e).(*kvBlock)
	b.elem = nil
	delete(c.byHash, b.hash)
}

// release gives back what allocate took. Prompt blocks stay cached; the tail of a prompt goes
// to the LRU first, so it is evicted before the head that more prompts are likely to share.
func (c *kvCache) release(a kvAlloc) {
	for i := len(a.hashed) - 1; i >= 0; i-- {
		b := a.hashed[i]
		b.ref--
		if b.ref == 0 {
			b.elem = c.lru.PushBack(b)
			c.used--
		}
	}
	c.free += a.anon
	c.used -= a.anon
}

// reset drops every cached block that no request uses (vLLM's /reset_prefix_cache) and
// returns how many it dropped.
func (c *kvCache) reset() int {
	n := c.lru.Len()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		b := e.Value.(*kvBlock)
		b.elem = nil
		delete(c.byHash, b.hash)
	}
	c.lru.Init()
	c.free += n
	return n
}
