//go:build !linux

package sockio

import "net"

// Wrap returns tc as is off Linux.
func Wrap(tc *net.TCPConn) net.Conn { return tc }

// Listener is its listener off Linux.
type Listener struct{ net.Listener }

// ReadFD is read(2) off Linux (see readfd_*.go).
func ReadFD(fd uintptr, b []byte) (int, error) { return readFD(fd, b) }
