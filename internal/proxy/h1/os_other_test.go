//go:build !linux

package h1

import (
	"testing"
	"time"
)

func fullBacklog(t *testing.T) string {
	t.Skip("needs Linux to fill an accept queue")
	return ""
}

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
