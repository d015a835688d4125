package config

import "testing"

func TestErrorListSortsIndicesAsNumbers(t *testing.T) {
	l := ErrorList{
		{Source: Source{File: "a.yaml", Index: 1}, Path: "spec.routes[10].name"},
		{Source: Source{File: "a.yaml", Index: 1}, Path: "spec.routes[2].name"},
		{Source: Source{File: "a.yaml", Index: 0}, Path: "spec.z"},
	}
	l.Sort()
	got := []string{l[0].Path, l[1].Path, l[2].Path}
	want := []string{"spec.z", "spec.routes[2].name", "spec.routes[10].name"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
