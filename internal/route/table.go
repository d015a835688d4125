package route

import "slices"

// Entry is one route of a Table.
type Entry[T any] struct {
	// Name of the route, for logs and errors.
	Name string
	// Priority orders entries when HasPriority is set: 0 first.
	Priority    int64
	HasPriority bool
	// Matcher of the route; nil matches every request.
	Matcher *Matcher
	// Value is what the caller routes to.
	Value T
}

// Table is an immutable, priority-ordered list of routes. It is safe for
// concurrent use.
type Table[T any] struct {
	entries    []Entry[T]
	needsModel bool
	index      *pathIndex // from indexMin entries
}

// NewTable orders a copy of entries: those with a priority first, by
// ascending priority, then those without, each group keeping the order
// given among equals (App Mesh: routes without a priority come after those
// with one, in the order written).
func NewTable[T any](entries []Entry[T]) *Table[T] {
	t := &Table[T]{entries: slices.Clone(entries)}
	slices.SortStableFunc(t.entries, func(a, b Entry[T]) int {
		switch {
		case a.HasPriority != b.HasPriority:
			if a.HasPriority {
				return -1
			}
			return 1
		case !a.HasPriority || a.Priority == b.Priority:
			return 0
		case a.Priority < b.Priority:
			return -1
		}
		return 1
	})
	lits := make([]string, len(t.entries))
	for i := range t.entries {
		if t.entries[i].Matcher.NeedsModel() {
			t.needsModel = true
		}
		lits[i] = t.entries[i].Matcher.literal()
	}
	if len(t.entries) >= indexMin {
		t.index = newPathIndex(lits)
	}
	return t
}

// Match returns the first entry, in priority order, whose matcher matches
// r. The entry points into the table and must not be modified. An error
// from r.Model (read only when a route needing the model is otherwise a
// match) stops the search and is returned unchanged. Match does not
// allocate. Tables of indexMin (32) entries or more are searched through an
// index of the routes' literal path prefixes, with the same result.
func (t *Table[T]) Match(r *Request) (*Entry[T], bool, error) {
	if t.index != nil {
		return t.indexMatch(r)
	}
	return t.scan(r)
}

// scan tests every entry in order.
func (t *Table[T]) scan(r *Request) (*Entry[T], bool, error) {
	for i := range t.entries {
		e := &t.entries[i]
		ok, err := e.Matcher.Match(r)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return e, true, nil
		}
	}
	return nil, false, nil
}

// Len is the number of entries.
func (t *Table[T]) Len() int { return len(t.entries) }

// Entries returns the entries in match order; callers must not modify
// them.
func (t *Table[T]) Entries() []Entry[T] { return t.entries }

// NeedsModel reports whether any entry has a model condition, so the
// gateway knows whether a request on this table may need its body read.
func (t *Table[T]) NeedsModel() bool { return t.needsModel }
