package config

import (
	"fmt"
	"sort"
	"strings"
)

// Source is where a resource came from: a file and the index of the YAML
// document within it (counting from 0), or nothing for resources read from
// the Kubernetes API.
type Source struct {
	File  string
	Index int
}

func (s Source) String() string {
	if s.File == "" {
		return ""
	}
	return fmt.Sprintf("%s[%d]", s.File, s.Index)
}

// FieldError is one problem with one field of one resource.
type FieldError struct {
	Source Source
	Kind   string
	// Name is the resource's name, or namespace/name in Kubernetes mode.
	Name string
	// Path is the field path, e.g. spec.routes[0].httpRoute.match.prefix;
	// empty for problems with a whole document.
	Path   string
	Reason string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if s := e.Source.String(); s != "" {
		b.WriteString(s)
		b.WriteByte(' ')
	}
	switch {
	case e.Kind != "" && e.Name != "":
		b.WriteString(e.Kind + "/" + e.Name)
	case e.Kind != "":
		b.WriteString(e.Kind)
	default:
		b.WriteString("document")
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ErrorList is every problem found in a configuration. It is an error
// when it is not empty.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders errors by file, document and path, so output is stable.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Source.File != b.Source.File {
			return a.Source.File < b.Source.File
		}
		if a.Source.Index != b.Source.Index {
			return a.Source.Index < b.Source.Index
		}
		return naturalLess(a.Path, b.Path)
	})
}

// naturalLess orders strings with runs of digits compared as numbers, so
// routes[2] comes before routes[10].
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := digitRun(a), digitRun(b)
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// Err returns l as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
