package kube

import (
	"log/slog"
	"os"
	"testing"

	"github.com/aimesh/aimesh/internal/kube"
)

func TestMain(m *testing.M) {
	// client-go's and controller-runtime's own logs, warnings and up;
	// once, before any test starts a client.
	kube.BridgeLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}
