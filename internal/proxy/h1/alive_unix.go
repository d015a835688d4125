//go:build linux || darwin || freebsd || netbsd || openbsd

package h1

import "syscall"

// peekFD looks at the socket without blocking or consuming: an idle
// keep-alive connection has nothing to read. EOF (the upstream closed
// it), bytes nobody asked for, or an error make it dead.
func (cn *conn) peekFD(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), cn.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	cn.peekDead = !(n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK))
	return true
}
