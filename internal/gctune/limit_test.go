package gctune

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"max\n", 0, ""},
		{"536870912\n", 512 << 20, ""},
		{"9223372036854771712\n", 0, ""}, // cgroup v1 without a limit
		{"lots", 0, `memory.max: want a byte count or max, got "lots"`},
		{"-1", 0, "want a byte count"},
	} {
		got, err := parseLimit("/sys/fs/cgroup/memory.max", tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseLimit(%q) = %d, %v; want %d, error containing %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSetMemoryLimitLeavesGOMEMLIMITAlone(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	if SetMemoryLimit(256 << 20) {
		t.Error("SetMemoryLimit with GOMEMLIMIT set: set it anyway")
	}
	t.Setenv("GOMEMLIMIT", "")
	if !SetMemoryLimit(256<<20) || debug.SetMemoryLimit(-1) != 256<<20 {
		t.Error("SetMemoryLimit(256 MiB) without GOMEMLIMIT: limit not set")
	}
	if SetMemoryLimit(0) {
		t.Error("SetMemoryLimit(0): set a limit")
	}
}
