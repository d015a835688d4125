package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/invalid/*.golden files from Load's output")

// seedMesh is the repository's example, which must always validate.
const seedMesh = "../../examples/seed-mesh.yaml"

// testCases lists dir's cases: each *.yaml file and each subdirectory
// (a multi-file configuration) is one case, named without the extension.
func testCases(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{}
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir():
			cases[name] = filepath.Join(dir, name)
		case strings.HasSuffix(name, ".yaml"):
			cases[strings.TrimSuffix(name, ".yaml")] = filepath.Join(dir, name)
		}
	}
	if len(cases) == 0 {
		t.Fatalf("no cases in %s", dir)
	}
	return cases
}

// optionsFor loads a case named *.kubernetes in Kubernetes mode.
func optionsFor(name string) Options {
	return Options{Kubernetes: strings.HasSuffix(name, ".kubernetes")}
}

func TestLoadValid(t *testing.T) {
	cases := testCases(t, "testdata/valid")
	cases["seed-mesh"] = seedMesh
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := Load([]string{path}, optionsFor(name))
			if err != nil {
				t.Fatalf("Load(%s) failed:\n%v", path, err)
			}
			if res.Len() == 0 {
				t.Fatalf("Load(%s) returned no resources", path)
			}
		})
	}
}

// TestLoadInvalid checks Load's whole error output for each case against
// testdata/invalid/<case>.golden; go test -run TestLoadInvalid -update
// rewrites them.
func TestLoadInvalid(t *testing.T) {
	for name, path := range testCases(t, "testdata/invalid") {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]string{path}, optionsFor(name))
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want errors", path)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load(%s) = %T %v, want an ErrorList", path, err, err)
			}
			got := err.Error() + "\n"
			golden := filepath.Join("testdata/invalid", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) errors differ from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, golden, got, want)
			}
		})
	}
}

// TestGoldensHaveCases catches a golden file left behind by a removed case.
func TestGoldensHaveCases(t *testing.T) {
	cases := testCases(t, "testdata/invalid")
	goldens, err := filepath.Glob("testdata/invalid/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, ok := cases[strings.TrimSuffix(filepath.Base(g), ".golden")]; !ok {
			t.Errorf("%s has no case", g)
		}
	}
}
