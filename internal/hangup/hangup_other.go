//go:build !linux

package hangup

import (
	"log/slog"
	"net"
)

// Watcher does nothing off Linux: a server notices that its client left
// when it next writes to it.
type Watcher struct{}

// New returns a Watcher that watches nothing.
func New(*slog.Logger) *Watcher { return &Watcher{} }

// Watch reports that c cannot be watched.
func (w *Watcher) Watch(net.Conn, func()) (Handle, bool) { return Handle{}, false }

// Unwatch does nothing.
func (w *Watcher) Unwatch(Handle) {}
