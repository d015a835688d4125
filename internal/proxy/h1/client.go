package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Client is an http.RoundTripper for HTTP/1.1 upstreams (plaintext, or TLS
// when TLS != nil). The zero value is ready to use; a Client must not be
// copied after first use.
type Client struct {
	// DialTimeout bounds connecting, and separately the TLS handshake
	// (default 5s).
	DialTimeout time.Duration
	// IdleTimeout is how long a pooled connection may stay idle before it
	// is closed (default 90s).
	IdleTimeout time.Duration
	// MaxIdlePerHost is the number of idle connections kept per address
	// (default 256).
	MaxIdlePerHost int
	// MaxConnsPerHost caps the open connections per address, idle ones
	// included; 0 means no cap. At the cap RoundTrip waits for a slot,
	// honouring the request's context.
	MaxConnsPerHost int
	// TLS, when not nil, makes every connection a TLS client. An empty
	// ServerName is taken from the address's host; NextProtos is always
	// http/1.1. Whether TLS is used depends on this field only, not on
	// the URL's scheme.
	TLS *tls.Config

	mu    sync.Mutex
	pools map[string]*hostPool
}

var _ http.RoundTripper = (*Client)(nil)

const (
	defaultDialTimeout    = 5 * time.Second
	defaultIdleTimeout    = 90 * time.Second
	defaultMaxIdlePerHost = 256
	tcpKeepAlive          = 30 * time.Second
)

func (c *Client) dialTimeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return defaultDialTimeout
}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return defaultIdleTimeout
}

func (c *Client) maxIdlePerHost() int {
	if c.MaxIdlePerHost > 0 {
		return c.MaxIdlePerHost
	}
	return defaultMaxIdlePerHost
}

// aLongTimeAgo is the deadline that makes a connection's pending and
// future I/O fail at once: how a cancelled context interrupts a read or
// write without a goroutine watching it.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip sends req on a pooled or new connection and reads the
// response head. The caller must close resp.Body; reading it to io.EOF
// returns the connection to the pool. req.Body is always closed.
//
// The request goes out as given: req.Header as is (the caller removes
// hop-by-hop fields), except Host, Content-Length, Transfer-Encoding and
// Trailer, which come from req.Host, the body and req.Trailer. Nothing
// is added but Connection: close for req.Close. A body of known length
// (req.ContentLength > 0, or an in-memory reader) is sent with
// Content-Length, any other one chunked; POST, PUT and PATCH without a
// body send Content-Length: 0. A header value with CR, LF or another
// control character is refused.
//
// A reused connection that fails before any response byte arrived (the
// upstream closed it while idle) is replaced once by a new one, when the
// body can be sent again: there is none, none of it was read, or
// req.GetBody gives it again.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.RoundTripDeadline(req, time.Time{})
}

// RoundTripDeadline is RoundTrip with the request write and the wait for
// the response head bounded by deadline (zero: only by the context). Past
// it the error wraps os.ErrDeadlineExceeded. Unlike a context deadline it
// costs no timer and no context: the connection's own I/O deadline does
// it. Waiting for a connection slot (MaxConnsPerHost) and connecting are
// bounded by deadline too (connecting also by DialTimeout).
func (c *Client) RoundTripDeadline(req *http.Request, deadline time.Time) (*http.Response, error) {
	if req.URL == nil || req.URL.Host == "" {
		closeBody(req.Body)
		return nil, errors.New("h1: no host in request URL")
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		closeBody(req.Body)
		return nil, ctxError(ctx, "round trip")
	}
	out, err := newOutgoing(req)
	if err != nil {
		closeBody(req.Body)
		return nil, err
	}
	defer out.free()
	hp := c.hostPool(hostPort(req.URL.Host, c.TLS != nil))
	for attempt := 0; ; attempt++ {
		cn, err := hp.get(ctx, attempt > 0, deadline)
		if err != nil {
			return nil, err
		}
		resp, retry, err := c.exchange(ctx, req, out, cn, deadline)
		if err == nil {
			return resp, nil
		}
		if !retry || attempt > 0 {
			return nil, err
		}
		if rerr := out.rewind(); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
	}
}

// exchange writes the request on cn and reads the response head. retry
// reports that the request may be sent again on another connection: cn
// was reused and failed before any response byte, the way a keep-alive
// connection the upstream has just closed fails.
func (c *Client) exchange(ctx context.Context, req *http.Request, out *outgoing, cn *conn, deadline time.Time) (resp *http.Response, retry bool, err error) {
	if !deadline.IsZero() {
		cn.nc.SetDeadline(deadline) // before the AfterFunc: a cancellation overrides it
	}
	watch := watchCtx(ctx, cn.cancel)
	fail := func(op string, err error, mayRetry bool) (*http.Response, bool, error) {
		watch.end()
		cn.hp.discard(cn)
		if ctxEnded(ctx) {
			return nil, false, ctxError(ctx, op)
		}
		retry := mayRetry && cn.reused && out.replayable() && isStale(err)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, retry, fmt.Errorf("h1: %s %s: %w", op, cn.hp.addr, err)
	}

	headSent, werr := out.writeTo(cn.nc)
	if werr != nil && (!headSent || isAbort(werr) || ctx.Err() != nil) {
		return fail("write request", werr, !headSent)
	}
	// When the body failed to go out, the upstream may have answered
	// early and closed: read that answer if it is there.
	ex := &exchange{}
	resp = &ex.resp
	br := getReader(cn.nc)
	fr, length, got, rerr := readResponse(br, resp, req, ex.vals[:])
	if rerr != nil {
		putReader(br)
		if werr != nil {
			return fail("write request", werr, !got)
		}
		return fail("read response", rerr, !got)
	}
	if !deadline.IsZero() {
		cn.nc.SetDeadline(time.Time{})
		if ctx.Err() != nil {
			cn.cancel() // the context ended as the deadline was lifted: keep its cut
		}
	}
	resp.Request = req
	resp.TLS = cn.tlsState // shared by the connection's responses
	keepAlive := !resp.Close && !out.close && werr == nil
	b := &ex.body
	b.init(ctx, resp, cn, br, watch, keepAlive, fr, length)
	if fr == FramingNone {
		b.release(true)
		resp.Body = http.NoBody
	} else {
		resp.Body = b
	}
	return resp, false, nil
}

// exchange is what one response allocates: the response and its body
// together.
type exchange struct {
	resp http.Response
	body body
	vals [8]string // backs the header values of a small response
}

func isAbort(err error) bool {
	var aerr *abortError
	return errors.As(err, &aerr)
}

// hostPort returns host with the default port added when it has none.
func hostPort(host string, tls bool) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if tls {
		return net.JoinHostPort(host, "443")
	}
	return net.JoinHostPort(host, "80")
}

// isStale reports whether err is how a kept-alive connection the upstream
// closed fails: EOF, a reset, or a broken pipe.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// ctxEnded reports whether ctx has ended. A deadline that has passed
// counts: I/O bounded by the same deadline can fail a moment before the
// context's timer cancels it, so wait for that to get context.Cause.
func ctxEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		<-ctx.Done()
		return true
	}
	return false
}

// ctxError is the error for an operation stopped by ctx: it wraps the
// context's cause, so errors.Is finds context.DeadlineExceeded or the
// caller's own cause.
func ctxError(ctx context.Context, op string) error {
	return fmt.Errorf("h1: %s: %w", op, context.Cause(ctx))
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// CloseIdleConnections closes the idle pooled connections. Connections in
// use are not affected and may be pooled again when their response ends.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	pools := make([]*hostPool, 0, len(c.pools))
	for _, hp := range c.pools {
		pools = append(pools, hp)
	}
	c.mu.Unlock()
	for _, hp := range pools {
		hp.closeIdle()
	}
}
