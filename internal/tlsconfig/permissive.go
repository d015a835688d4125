package tlsconfig

import (
	"bufio"
	"crypto/tls"
	"net"
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
	return &sniffListener{Listener: ln, cfg: cfg}
}

type sniffListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, cfg: l.cfg, r: bufio.NewReaderSize(c, 512)}, nil
}

// sniffConn decides on its first Read (in the server's connection
// goroutine, not in Accept) whether it speaks TLS.
type sniffConn struct {
	net.Conn
	cfg     *tls.Config
	r       *bufio.Reader
	decided net.Conn
}

func (c *sniffConn) Read(b []byte) (int, error) {
	if c.decided == nil {
		c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		first, err := c.r.Peek(1)
		c.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			return 0, err
		}
		plain := &bufferedConn{Conn: c.Conn, r: c.r}
		if first[0] == 0x16 {
			c.decided = tls.Server(plain, c.cfg)
		} else {
			c.decided = plain
		}
	}
	return c.decided.Read(b)
}

func (c *sniffConn) Write(b []byte) (int, error) {
	if c.decided != nil {
		return c.decided.Write(b)
	}
	return c.Conn.Write(b)
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
