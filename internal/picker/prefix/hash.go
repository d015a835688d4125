package prefix

import "hash/maphash"

// MaxBlocks bounds the blocks hashed per request: prompts longer than
// MaxBlocks × block size are matched on their first MaxBlocks blocks.
const MaxBlocks = 256

// seed is the process's hash seed. Hashes are only compared within one
// process, so a random seed is enough (and keeps the map keys unguessable).
var seed = maphash.MakeSeed()

// AppendHashes appends the chained hashes of the full blocks of prompt
// (blockBytes each, at most MaxBlocks) to dst: hash i depends on blocks 0
// to i, so equal hashes mean equal prefixes. A trailing partial block is
// not hashed, as a model server caches full blocks only.
func AppendHashes(dst []uint64, prompt []byte, blockBytes int) []uint64 {
	if blockBytes <= 0 {
		return dst
	}
	var h uint64
	for i := 0; i+blockBytes <= len(prompt) && i/blockBytes < MaxBlocks; i += blockBytes {
		h = chain(h, maphash.Bytes(seed, prompt[i:i+blockBytes]))
		dst = append(dst, h)
	}
	return dst
}

// chain mixes the parent's hash with a block's own hash (splitmix64's
// finaliser over the pair), so that the result depends on the order of
// the blocks.
func chain(parent, block uint64) uint64 {
	x := parent*0x9e3779b97f4a7c15 ^ block
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
