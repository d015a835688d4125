//go:build !linux

package kubeenv

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"testing"
)

// TestHost needs Linux network namespaces; elsewhere NewTestHost skips.
type TestHost struct {
	Name     string
	Addr     netip.Addr
	HostAddr netip.Addr
}

// NewTestHost skips t: network namespaces are Linux-only.
func NewTestHost(t testing.TB, name string) *TestHost {
	t.Helper()
	skipOrFail(t, "kubeenv: test hosts need Linux network namespaces")
	return nil
}

// Do is unavailable off Linux.
func (h *TestHost) Do(fn func() error) error { return nil }

// Listen is unavailable off Linux.
func (h *TestHost) Listen(t testing.TB, port int) net.Listener { return nil }

// Serve is unavailable off Linux.
func (h *TestHost) Serve(t testing.TB, port int, handler http.Handler) string { return "" }

// Command is unavailable off Linux.
func (h *TestHost) Command(ctx context.Context, name string, args ...string) *exec.Cmd { return nil }

// Port returns the port of a listener's TCP address.
func Port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }
