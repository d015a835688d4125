package discovery

import (
	"slices"
	"sync/atomic"
)

// Endpoint is one upstream address. It outlives snapshots: the same
// address in the same Set keeps the same *Endpoint.
type Endpoint struct {
	// Addr is host:port.
	Addr string
	// Slot is a small number unique among the Set's current endpoints and
	// fixed for the Endpoint's life, so per-endpoint tables (the prefix
	// index) can be arrays. A removed endpoint's slot is reused.
	Slot int
	// InFlight is the number of requests aimesh has open to the endpoint.
	InFlight atomic.Int64
	// State is the endpoint's load and health picture (see State).
	State State
}

// Set is the current endpoints of one VirtualNode port. Reads are lock
// free; Update replaces the list atomically.
type Set struct {
	key  Key
	eps  atomic.Pointer[[]*Endpoint]
	vers atomic.Int64
}

// Key names a Set: a VirtualNode (namespace/name) and a port.
type Key struct {
	Node string
	Port int
}

func newSet(k Key) *Set {
	s := &Set{key: k}
	empty := []*Endpoint{}
	s.eps.Store(&empty)
	return s
}

// Key is the Set's key.
func (s *Set) Key() Key { return s.key }

// Endpoints returns the current endpoints. The slice must not be modified.
func (s *Set) Endpoints() []*Endpoint { return *s.eps.Load() }

// Version counts updates that changed the endpoint list.
func (s *Set) Version() int64 { return s.vers.Load() }

// Update sets the endpoints to addrs (host:port), keeping the Endpoint
// objects of addresses already present. It reports whether the list
// changed.
func (s *Set) Update(addrs []string) bool {
	old := s.Endpoints()
	addrs = slices.Clone(addrs)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) == len(old) {
		same := true
		for i, a := range addrs {
			if old[i].Addr != a {
				same = false
				break
			}
		}
		if same {
			return false
		}
	}
	byAddr := make(map[string]*Endpoint, len(old))
	for _, e := range old {
		byAddr[e.Addr] = e
	}
	next := make([]*Endpoint, 0, len(addrs))
	used := make(map[int]bool, len(addrs))
	for _, a := range addrs {
		if e, ok := byAddr[a]; ok {
			used[e.Slot] = true
		}
	}
	slot := 0
	for _, a := range addrs {
		if e, ok := byAddr[a]; ok {
			next = append(next, e)
			continue
		}
		for used[slot] {
			slot++
		}
		used[slot] = true
		next = append(next, &Endpoint{Addr: a, Slot: slot})
	}
	s.eps.Store(&next)
	s.vers.Add(1)
	return true
}
