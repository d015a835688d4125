package sim

import (
	"testing"
)

// checkKV verifies the pool invariants.
func checkKV(t *testing.T, c *kvCache) {
	t.Helper()
	if c.free+c.lru.Len()+c.used != c.total {
		t.Fatalf("free %d + cached %d + used %d != total %d", c.free, c.lru.Len(), c.used, c.total)
	}
	if c.free < 0 || c.used < 0 {
		t.Fatalf("negative counts: free %d used %d", c.free, c.used)
	}
	for e := c.lru.Front(); e != nil; e = e.Next() {
		b := e.Value.(*kvBlock)
		if b.ref != 0 || c.byHash[b.hash] != b {
			t.Fatalf("lru block %#x: ref %d, indexed %v", b.hash, b.ref, c.byHash[b.hash] == b)
		}
	}
}

func TestKVCache(t *testing.T) {
	h := func(xs ...uint64) []uint64 { return xs }
	type step struct {
		op       string // alloc, release, reset
		hashes   []uint64
		need     int
		slot     int // which allocation to keep or release
		wantOK   bool
		wantHit  int
		wantUsed int
		wantFree int // free or evictable
	}
	tests := []struct {
		name  string
		total int
		steps []step
	}{
		{"prefix reused after release", 8, []step{
			{op: "alloc", hashes: h(1, 2, 3), need: 4, slot: 0, wantOK: true, wantHit: 0, wantUsed: 4, wantFree: 4},
			{op: "release", slot: 0, wantUsed: 0, wantFree: 8},
			{op: "alloc", hashes: h(1, 2, 9), need: 4, slot: 1, wantOK: true, wantHit: 2, wantUsed: 4, wantFree: 4},
		}},
		{"shared while both run", 8, []step{
			{op: "alloc", hashes: h(1, 2), need: 3, slot: 0, wantOK: true, wantUsed: 3, wantFree: 5},
			{op: "alloc", hashes: h(1, 2), need: 3, slot: 1, wantOK: true, wantHit: 2, wantUsed: 4, wantFree: 4},
			{op: "release", slot: 0, wantUsed: 3, wantFree: 5},
			{op: "release", slot: 1, wantUsed: 0, wantFree: 8},
		}},
		{"too big changes nothing", 4, []step{
			{op: "alloc", hashes: h(1, 2), need: 3, slot: 0, wantOK: true, wantUsed: 3, wantFree: 1},
			{op: "alloc", hashes: h(5), need: 2, slot: 1, wantOK: false, wantUsed: 3, wantFree: 1},
			{op: "alloc", hashes: h(1, 2), need: 3, slot: 1, wantOK: true, wantHit: 2, wantUsed: 4, wantFree: 0},
		}},
		{"evicts least recently used, tail first", 4, []step{
			{op: "alloc", hashes: h(1, 2), need: 2, slot: 0, wantOK: true, wantUsed: 2, wantFree: 2},
			{op: "release", slot: 0, wantUsed: 0, wantFree: 4},
			// Needs 3 new blocks: 2 free + evicts block 2 (the tail of the released prompt).
			{op: "alloc", hashes: h(7, 8, 9), need: 3, slot: 1, wantOK: true, wantUsed: 3, wantFree: 1},
			{op: "release", slot: 1, wantUsed: 0, wantFree: 4},
			{op: "alloc", hashes: h(1, 2), need: 2, slot: 2, wantOK: true, wantHit: 1, wantUsed: 2, wantFree: 2},
		}},
		{"reusing an evictable block counts against capacity", 3, []step{
			{op: "alloc", hashes: h(1), need: 1, slot: 0, wantOK: true, wantUsed: 1, wantFree: 2},
			{op: "release", slot: 0, wantUsed: 0, wantFree: 3},
			{op: "alloc", hashes: nil, need: 2, slot: 1, wantOK: true, wantUsed: 2, wantFree: 1},
			{op: "alloc", hashes: h(1), need: 2, slot: 2, wantOK: false, wantUsed: 2, wantFree: 1},
			{op: "alloc", hashes: h(1), need: 1, slot: 2, wantOK: true, wantHit: 1, wantUsed: 3, wantFree: 0},
		}},
		{"reset drops only unreferenced blocks", 6, []step{
			{op: "alloc", hashes: h(1, 2), need: 2, slot: 0, wantOK: true, wantUsed: 2, wantFree: 4},
			{op: "alloc", hashes: h(3, 4), need: 2, slot: 1, wantOK: true, wantUsed: 4, wantFree: 2},
			{op: "release", slot: 0, wantUsed: 2, wantFree: 4},
			{op: "reset", wantUsed: 2, wantFree: 4},
			{op: "alloc", hashes: h(1, 2), need: 2, slot: 2, wantOK: true, wantHit: 0, wantUsed: 4, wantFree: 2},
			{op: "alloc", hashes: h(3, 4), need: 2, slot: 3, wantOK: true, wantHit: 2, wantUsed: 4, wantFree: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newKVCache(tt.total)
			allocs := map[int]kvAlloc{}
			for i, s := range tt.steps {
				switch s.op {
				case "alloc":
					a, hit, ok := c.allocate(s.hashes, s.need)
					if ok != s.wantOK || hit != s.wantHit {
						t.Fatalf("step %d: ok=%v hit=%d, want ok=%v hit=%d", i, ok, hit, s.wantOK, s.wantHit)
					}
					if ok {
						allocs[s.slot] = a
					}
				case "release":
					c.release(allocs[s.slot])
				case "reset":
					c.reset()
				}
				checkKV(t, c)
				if c.used != s.wantUsed || c.available() != s.wantFree {
					t.Fatalf("step %d (%s): used %d free %d, want used %d free %d", i, s.op, c.used, c.available(), s.wantUsed, s.wantFree)
				}
			}
		})
	}
}

func BenchmarkKVAllocateRelease(b *testing.B) {
	c := newKVCache(4096)
	hashes := BlockHashes(string(make([]byte, 64*128)), 16) // 128 blocks
	b.ReportAllocs()
	for b.Loop() {
		a, _, ok := c.allocate(hashes, 130)
		if !ok {
			b.Fatal("allocation failed")
		}
		c.release(a)
	}
}
