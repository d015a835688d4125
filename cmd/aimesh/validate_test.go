package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*/*.golden files")

// TestCmdValidate runs `aimesh validate` with each case's arguments and
// compares exit code, stdout and stderr with testdata/validate/<case>.golden.
func TestCmdValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"seed", []string{"-f", "../../examples/seed-mesh.yaml"}},
		{"seed-trailing-arg", []string{"../../examples/seed-mesh.yaml"}},
		{"broken", []string{"-f", "testdata/validate/broken.yaml"}},
		{"split-dir-file-mode", []string{"-f", "testdata/validate/split"}},
		{"split-dir-kubernetes", []string{"--kubernetes", "-f", "testdata/validate/split"}},
		{"split-files-kubernetes", []string{"-kubernetes", "-f", "testdata/validate/split/mesh.yaml", "-f", "testdata/validate/split/node.yaml"}},
		{"missing-file", []string{"-f", "testdata/validate/nope.yaml"}},
		{"no-files", nil},
		{"unknown-flag", []string{"--strict", "-f", "x.yaml"}},
		{"help", []string{"-h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cmdValidate(context.Background(), tt.args, &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			golden := filepath.Join("testdata", "validate", tt.name+".golden")
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
				t.Errorf("aimesh validate %q differs from %s (run with -update to accept):\n%s", tt.args, golden, got)
			}
		})
	}
}
