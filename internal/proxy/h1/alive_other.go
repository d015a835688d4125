//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package h1

// peekFD has no non-blocking peek here: idle connections count as alive,
// and a stale one is caught by the retry on a new connection.
func (cn *conn) peekFD(fd uintptr) bool {
	cn.peekDead = false
	return true
}
