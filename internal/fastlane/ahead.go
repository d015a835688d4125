package fastlane

import "net"

// AheadConn is a connection that yields Ahead, bytes already read from
// it, before reading it again: how a connection handed off (HandOff) or
// given back by a stream relay reaches the server that goes on with it.
type AheadConn struct {
	net.Conn
	Ahead []byte
}

// WithAhead returns c reading ahead first (c itself when ahead is empty).
func WithAhead(c net.Conn, ahead []byte) net.Conn {
	if len(ahead) == 0 {
		return c
	}
	return &AheadConn{Conn: c, Ahead: ahead}
}

func (c *AheadConn) Read(p []byte) (int, error) {
	if len(c.Ahead) > 0 {
		n := copy(p, c.Ahead)
		c.Ahead = c.Ahead[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection when it can, as net/http does
// with a TCP connection.
func (c *AheadConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
