package tlsconfig

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Listen wraps ln for a listener TLS mode: STRICT accepts only TLS;
// PERMISSIVE accepts TLS and plaintext on the same port, telling them
// apart by the first byte (a TLS handshake record starts with 0x16);
// DISABLED (cfg nil) returns ln unchanged.
func Listen(ln net.Listener, cfg *tls.Config, permissive bool) net.Listener {
	if cfg == nil {
		return ln
	}
	if !permissive {
		return tls.NewListener(ln, cfg)
	}
	l := &sniffListener{Listener: ln, cfg: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.loop()
	return l
}

// sniffTimeout bounds the wait for a new connection's first byte.
const sniffTimeout = 10 * time.Second

// sniffListener peeks at each connection's first byte in its own
// goroutine, so a slow client never holds up Accept, and hands TLS
// connections out as *tls.Conn: net/http then does the handshake, ALPN and
// Request.TLS as on a STRICT listener.
type sniffListener struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error
}

func (l *sniffListener) loop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.closeWith(err)
			return
		}
		go l.sniff(c)
	}
}

func (l *sniffListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReaderSize(c, 512)
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &bufferedConn{Conn: c, r: br}
	if first[0] == 0x16 {
		out = tls.Server(out, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *sniffListener) Close() error { return l.closeWith(nil) }

// closeWith closes the listener once; acceptErr (set before done closes)
// is what Accept returns afterwards.
func (l *sniffListener) closeWith(acceptErr error) error {
	var err error
	l.once.Do(func() {
		l.err = acceptErr
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
