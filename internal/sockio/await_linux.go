//go:build linux

package sockio

import "syscall"

// WriteAwaitRead writes all of p, like Write, and then returns only once
// the socket has something to read (or the read deadline passed, or the
// connection was closed: the next Read reports that). It is for a client
// that sends a request and then reads the answer: a Read straight after
// the write finds nothing yet (EAGAIN) and only then waits in the poller,
// one system call per exchange for nothing. Waiting first is safe only
// because the wait begins before the request is written: the poller's
// readiness is reset when a read begins, so data that came before would
// be forgotten, but an answer cannot come before its request. The caller
// must therefore expect nothing unasked on the connection: an upstream
// that closes an idle connection is fine (the request then draws a reset,
// which wakes the wait), a peer that sends at will is not.
//
// When the socket buffer cannot take all of p at once, the rest is
// written by Write and the read is left to find out when the answer is
// there, as usual.
func (c *Conn) WriteAwaitRead(p []byte) (int, error) {
	n, pending, err := c.writeAwait(p)
	if err != nil || !pending {
		return n, err
	}
	m, err := c.Write(p[n:])
	return n + m, err
}

// writeAwait makes the write inside a RawConn Read, whose readiness reset
// comes first; pending reports a write cut short by a full buffer.
func (c *Conn) writeAwait(p []byte) (n int, pending bool, err error) {
	if len(p) == 0 {
		return 0, false, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr, c.awaiting, c.wpending = p, 0, nil, true, false
	rerr := c.rc.Read(c.awaitFn)
	c.wbuf = nil
	n, pending = c.wn, c.wpending
	switch {
	case c.werr != nil:
		return n, false, c.werr
	case c.awaiting:
		// The read side failed before the write (deadline, closed):
		// report it as the write's, as nothing went out.
		return 0, false, rerr
	}
	// A wait that ended in an error is the next Read's to report.
	return n, pending, nil
}

// doAwait is the RawConn Read callback of writeAwait: the first call
// writes and asks to wait; the next, made when the socket is readable,
// ends the wait.
func (c *Conn) doAwait(fd uintptr) bool {
	if !c.awaiting {
		return true
	}
	c.awaiting = false
	for c.wn < len(c.wbuf) {
		n, e := sysWrite(fd, c.wbuf[c.wn:])
		switch e {
		case 0:
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			c.wpending = true
			return true
		default:
			c.werr = c.opError("write", e)
			return true
		}
	}
	return false
}
