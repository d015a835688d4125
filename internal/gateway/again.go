package gateway

import (
	"net"
	"sync"

	"github.com/aimesh/aimesh/internal/fastlane"
)

// againListener is what a listener's http.Server serves: the connections
// the socket accepts, and those a proxy.Stream gives back after relaying
// a streaming response outside net/http, so that a client's keep-alive
// connection serves its next request as if the stream had never left.
type againListener struct {
	net.Listener // nil: only what is given back (the fast lane's hand-offs)
	addr         net.Addr
	again        chan net.Conn
	accepted     chan accepted
	closed       chan struct{}
	once         sync.Once
}

type accepted struct {
	c   net.Conn
	err error
}

// newAgainListener serves what ln accepts and what is given back; with ln
// nil, only what is given back, and Addr is addr.
func newAgainListener(ln net.Listener, addr net.Addr) *againListener {
	l := &againListener{Listener: ln, addr: addr, again: make(chan net.Conn), closed: make(chan struct{})}
	if ln != nil {
		l.accepted = make(chan accepted)
		go l.acceptLoop()
	}
	return l
}

// Addr is the socket's address.
func (l *againListener) Addr() net.Addr {
	if l.Listener != nil {
		return l.Listener.Addr()
	}
	return l.addr
}

// acceptLoop hands what the socket accepts to Accept, until the socket
// fails for good.
func (l *againListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.closed:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() { //nolint:staticcheck // Temporary is gone; timeouts are the retryable case
				return
			}
		}
	}
}

// Accept returns the next accepted or given-back connection.
func (l *againListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.again:
		return c, nil
	case a := <-l.accepted:
		return a.c, a.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close closes the socket; connections given back after it are refused.
func (l *againListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	if l.Listener == nil {
		return nil
	}
	return l.Listener.Close()
}

// resume gives c back to be served; ahead is what the client already sent
// of its next request. It reports whether the server took c.
func (l *againListener) resume(c net.Conn, ahead []byte) bool {
	select {
	case l.again <- fastlane.WithAhead(c, ahead):
		return true
	case <-l.closed:
		return false
	}
}
