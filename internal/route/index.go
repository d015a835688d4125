package route

import (
	"slices"
	"strings"
)

// indexMin is the table size from which Table keeps a path index; below it
// the linear scan is as fast.
const indexMin = 32

// maxCandidateLists bounds the lists of candidates a lookup merges; a path
// passing more index nodes with entries falls back to the linear scan.
const maxCandidateLists = 16

// pathIndex is a radix tree over the literal path prefixes of a table's
// matchers (their prefix or exact path). Every entry hangs off the node
// for its literal, entries without one off the root. The entries that can
// match a path are those on the nodes the path walks through, so a lookup
// merges those few ascending lists instead of testing every entry, and
// still returns the first match in table order.
type pathIndex struct {
	nodes []inode
}

type inode struct {
	label    string  // edge from the parent
	first    string  // first byte of each child's label, for IndexByte
	children []int32 // parallel to first
	entries  []int32 // ascending table positions
}

// newPathIndex indexes lits, the literal of each table position.
func newPathIndex(lits []string) *pathIndex {
	byLit := map[string][]int32{}
	var keys []string
	for i, l := range lits {
		if _, ok := byLit[l]; !ok {
			keys = append(keys, l)
		}
		byLit[l] = append(byLit[l], int32(i))
	}
	slices.Sort(keys)
	ix := &pathIndex{}
	ix.build(keys, 0, "", byLit)
	return ix
}

// build adds the node for keys, sorted and unique, which share their first
// depth bytes; it returns the node's position.
func (ix *pathIndex) build(keys []string, depth int, label string, byLit map[string][]int32) int32 {
	id := int32(len(ix.nodes))
	ix.nodes = append(ix.nodes, inode{label: label})
	if len(keys) > 0 && len(keys[0]) == depth { // sorted: the key ending here comes first
		ix.nodes[id].entries = byLit[keys[0]]
		keys = keys[1:]
	}
	for len(keys) > 0 {
		c := keys[0][depth]
		n := 1
		for n < len(keys) && keys[n][depth] == c {
			n++
		}
		group := keys[:n]
		keys = keys[n:]
		end := depth + commonPrefixLen(group[0][depth:], group[n-1][depth:])
		child := ix.build(group, end, group[0][depth:end], byLit)
		ix.nodes[id].first += string(c)
		ix.nodes[id].children = append(ix.nodes[id].children, child)
	}
	return id
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// candidates collects the entry lists of the nodes path walks through; ok
// is false when there are more than fit in lists.
func (ix *pathIndex) candidates(path string, lists *[maxCandidateLists][]int32) (n int, ok bool) {
	node := &ix.nodes[0]
	rest := path
	for {
		if len(node.entries) > 0 {
			if n == len(lists) {
				return 0, false
			}
			lists[n] = node.entries
			n++
		}
		if rest == "" {
			return n, true
		}
		k := strings.IndexByte(node.first, rest[0])
		if k < 0 {
			return n, true
		}
		child := &ix.nodes[node.children[k]]
		if !strings.HasPrefix(rest, child.label) {
			return n, true
		}
		rest = rest[len(child.label):]
		node = child
	}
}

// indexMatch finds the first entry in table order among the candidates for
// r.Path, merging their ascending lists.
func (t *Table[T]) indexMatch(r *Request) (*Entry[T], bool, error) {
	var lists [maxCandidateLists][]int32
	n, ok := t.index.candidates(r.Path, &lists)
	if !ok {
		return t.scan(r)
	}
	for {
		best := -1
		for k := 0; k < n; k++ {
			if len(lists[k]) > 0 && (best < 0 || lists[k][0] < lists[best][0]) {
				best = k
			}
		}
		if best < 0 {
			return nil, false, nil
		}
		e := &t.entries[lists[best][0]]
		lists[best] = lists[best][1:]
		matched, err := e.Matcher.Match(r)
		if err != nil {
			return nil, false, err
		}
		if matched {
			return e, true, nil
		}
	}
}
