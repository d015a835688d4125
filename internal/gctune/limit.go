package gctune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroup files that hold a container's memory limit: v2, then v1.
var cgroupLimitFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// unlimitedV1 is the smallest value cgroup v1 reports for "no limit"
// (the largest page-aligned int64); anything at or above it is no limit.
const unlimitedV1 = 1 << 62

// MemoryLimitFromCgroup returns the memory limit of the cgroup this
// process runs in, or 0 if there is none (or no cgroup file to read).
func MemoryLimitFromCgroup() (int64, error) {
	for _, path := range cgroupLimitFiles {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("memory limit: %w", err)
		}
		return parseLimit(path, string(b))
	}
	return 0, nil
}

func parseLimit(path, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("memory limit: %s: want a byte count or max, got %q", path, s)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n, nil
}

// SetMemoryLimit sets the runtime's soft memory limit to limit bytes
// unless GOMEMLIMIT already set one (the environment wins); it reports
// whether it set it. A limit of 0 or less sets nothing.
func SetMemoryLimit(limit int64) bool {
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetMemoryLimit(limit)
	return true
}
