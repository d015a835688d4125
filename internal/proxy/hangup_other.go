//go:build !linux

package proxy

import (
	"log/slog"
	"net"
)

// hangups is a no-op off Linux: a relayed stream notices that its client
// left when it next writes to it.
type hangups struct{}

func newHangups(*slog.Logger) *hangups          { return &hangups{} }
func (h *hangups) watch(*Stream, net.Conn) bool { return false }
func (h *hangups) unwatch(*Stream)              {}
