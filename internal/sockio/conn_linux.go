//go:build linux

package sockio

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// Conn is a TCP connection with raw-syscall Read and Write; everything
// else (deadlines, Close, CloseWrite, SyscallConn) is *net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	// A Read and a Write may run at once; each has its own state, set
	// before the RawConn call and guarded by its own mutex (net.Conn
	// allows concurrent calls). The callbacks are bound once, so a call
	// allocates nothing.
	rmu     sync.Mutex
	wmu     sync.Mutex
	rbuf    []byte
	rn      int
	rerr    error
	wbuf    []byte
	wn      int
	werr    error
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
	// WriteAwaitRead's state (both mutexes held).
	awaiting, wpending bool
	awaitFn            func(uintptr) bool
}

// Wrap returns tc with raw-syscall Read and Write (tc itself when its
// descriptor cannot be had).
func Wrap(tc *net.TCPConn) net.Conn {
	rc, err := tc.SyscallConn()
	if err != nil {
		return tc
	}
	c := &Conn{TCPConn: tc, rc: rc}
	c.readFn, c.writeFn, c.awaitFn = c.doRead, c.doWrite, c.doAwait
	return c
}

// Read reads like net.Conn's Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.readFn)
	c.rbuf = nil
	if err != nil {
		return 0, err
	}
	return c.rn, c.rerr
}

func (c *Conn) doRead(fd uintptr) bool {
	for {
		n, e := sysRead(fd, c.rbuf)
		switch e {
		case 0:
			if n == 0 {
				c.rerr = io.EOF
			}
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = c.opError("read", e)
		return true
	}
}

// Write writes all of p like net.Conn's Write.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.writeFn)
	c.wbuf = nil
	if err != nil {
		return c.wn, err
	}
	return c.wn, c.werr
}

func (c *Conn) doWrite(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		rest := c.wbuf[c.wn:]
		n, e := sysWrite(fd, rest)
		switch e {
		case 0:
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = c.opError("write", e)
			return true
		}
	}
	return true
}

func (c *Conn) opError(op string, e syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: e}
}

// ReadFrom and WriteTo hide *net.TCPConn's (splice, sendfile), which would
// bypass Read and Write.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{c}, r)
}

// WriteTo copies the connection's input to w with Read.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{c})
}

// ReadFD reads from a non-blocking socket descriptor as Conn does, for
// code that waits on the socket itself (a RawConn's Read callback).
func ReadFD(fd uintptr, b []byte) (int, error) {
	n, e := sysRead(fd, b)
	if e != 0 {
		return -1, e
	}
	return n, nil
}

// Listener wraps the TCP connections its listener accepts.
type Listener struct{ net.Listener }

// Accept returns the next connection, wrapped when it is TCP.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		return Wrap(tc), err
	}
	return c, err
}
