//go:build !linux

package sockio

import "net"

// Wrap returns tc as is off Linux.
func Wrap(tc *net.TCPConn) net.Conn { return tc }
