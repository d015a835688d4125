package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary documents through Decode, Default and
// Validate (in both modes): none may panic, and every problem must render.
// The seed corpus is every YAML file under testdata and the seed mesh.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	more, _ := filepath.Glob("testdata/*/*/*.y*ml")
	files = append(append(files, more...), seedMesh)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(baseConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, errs := Decode("fuzz.yaml", data)
		for _, e := range errs {
			_ = e.Error()
		}
		Default(res)
		for _, opts := range []Options{{}, {Kubernetes: true}} {
			list := Validate(res, opts)
			if err := list.Err(); err != nil {
				_ = err.Error()
			}
		}
	})
}
