package fastlane

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aimesh/aimesh/internal/hangup"
)

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}

// errClientGone is the cause of a request context cancelled because the
// client hung up.
var errClientGone = errors.New("client hung up")

// aLongTimeAgo is a deadline that has passed: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection in the fast lane.
type conn struct {
	s      *Server
	nc     net.Conn
	src    AheadConn // what was read ahead of the fast lane, then nc
	br     *bufio.Reader
	remote string
	w      response
	body   body
	// deadline is the read deadline set on nc (zero: none).
	deadline time.Time
	done     bool // the loop gave nc up: closed, handed off or hijacked
	linger   bool // close after a FIN and a wait: request bytes are unread

	// started is when the running request began (unix ns; 0: none).
	started atomic.Int64
	// req is the running request's context. It is written before
	// started is stored, and read (by watchIfLong) only after a non-zero
	// started is loaded.
	req *reqContext
	// gone is set when the client hung up: later requests on the
	// connection start cancelled, as they would under one connection
	// context.
	gone    atomic.Bool
	mu      sync.Mutex // guards what follows, and nc's deadline while idle
	idle    bool       // waiting for a request with nothing buffered
	poked   bool       // Shutdown cut the idle wait short
	watched bool
	watch   hangup.Handle
}

func newConn(s *Server, nc net.Conn, ahead []byte) *conn {
	c := &conn{s: s, nc: nc, src: AheadConn{Conn: nc, Ahead: ahead}}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.src)
	c.w.c, c.w.header = c, make(http.Header)
	c.body.c = c
	return c
}

// release returns the read buffer of a connection no one reads any more.
func (c *conn) release() {
	// A body reader the handler left running holds body.mu while it reads
	// through br: wait for it (its read fails once nc is closed, as it is
	// whenever such a reader exists), so that br does not go back to the
	// pool under it and it then sees br == nil.
	c.body.mu.Lock()
	defer c.body.mu.Unlock()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

func (c *conn) serve() {
	if a := c.nc.RemoteAddr(); a != nil {
		c.remote = a.String()
	}
	defer func() {
		if !c.done {
			c.close()
		}
	}()
	afterPost := false
	for {
		end, ok := c.readHead(afterPost)
		if !ok {
			return
		}
		b, _ := c.br.Peek(end)
		h, ok := parseHead(b)
		if !ok {
			c.handOff()
			return
		}
		c.br.Discard(end)
		afterPost = h.method == http.MethodPost
		if !c.serveRequest(&h) {
			return
		}
	}
}

// readHead waits for a whole request head and returns its length. It
// returns false when the loop must end: the connection is closed, or
// handed off because the head does not fit.
//
// After a POST it skips up to four CR or LF bytes before the head, as
// net/http does for old clients that end a body with an extra CRLF.
func (c *conn) readHead(afterPost bool) (int, bool) {
	if c.br.Buffered() > 0 {
		// Pipelined bytes: the loop does not go idle for this head, so
		// renew the deadline set before the last request ran.
		c.idleDeadline()
	}
	scanned := 0
	for {
		n := c.br.Buffered()
		if n > 0 {
			c.setActive()
			b, _ := c.br.Peek(n)
			if afterPost {
				afterPost = false
				if k := leadingCRLF(b); k > 0 {
					c.br.Discard(k)
					continue
				}
			}
			if end := headEnd(b, scanned); end >= 0 {
				return end, true
			}
			if hasBareLF(b, scanned) {
				c.handOff() // net/http reads bare LF line ends; the fast lane does not
				return 0, false
			}
			scanned = n
			if n == c.br.Size() {
				c.handOff() // a head this large is for net/http
				return 0, false
			}
			if t := c.s.ReadHeaderTimeout; t > 0 {
				if d := time.Now().Add(t); c.deadline.IsZero() || d.Before(c.deadline) {
					c.setDeadline(d)
				}
			}
		} else if !c.waitIdle() {
			return 0, false
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return 0, false // closed, reset or timed out: nothing to answer
		}
	}
}

// waitIdle marks the connection idle between requests and keeps its idle
// deadline, moving it at most once a second. It reports false when the
// server drains: the connection is then closed.
func (c *conn) waitIdle() bool {
	c.mu.Lock()
	c.idle = true
	c.mu.Unlock()
	c.idleDeadline()
	return !c.s.draining.Load() // after the deadline: see poke
}

// idleDeadline sets the idle deadline, moving it at most once a second,
// and always when it has passed (a request ran past it).
func (c *conn) idleDeadline() {
	if t := c.s.IdleTimeout; t > 0 {
		now := time.Now()
		if left := c.deadline.Sub(now); c.deadline.IsZero() || left <= 0 || left < t-time.Second {
			c.setDeadline(now.Add(t))
		}
	} else if !c.deadline.IsZero() {
		c.setDeadline(time.Time{})
	}
}

// setActive ends the idle state when request bytes arrive.
func (c *conn) setActive() {
	c.mu.Lock()
	poked := c.poked
	c.idle, c.poked = false, false
	c.mu.Unlock()
	if poked {
		c.setDeadline(c.deadline) // undo the poke: this request is served
	}
}

// poke wakes an idle connection so that it closes (the server drains).
// The loop sets its deadline before it checks for draining, and Shutdown
// sets draining before it pokes: either the loop sees draining or the
// poke's deadline is the last one set.
func (c *conn) poke() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.poked = true
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

func (c *conn) setDeadline(d time.Time) {
	c.deadline = d
	c.nc.SetReadDeadline(d)
}

// serveRequest runs the handler for h and finishes its response. It
// reports whether the connection serves another request.
func (c *conn) serveRequest(h *reqHead) bool {
	// A context of its own, not derived from one per connection: that
	// would cost a child registration per request, and only the hang-up
	// watch ever cancels it before the request ends.
	ctx := newReqContext()
	defer ctx.end(nil)
	if c.gone.Load() {
		ctx.end(errClientGone)
	}
	c.req = ctx
	var zero http.Request
	r := zero.WithContext(ctx)
	r.Method, r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor = h.method, h.url, "HTTP/1.1", 1, 1
	r.Header, r.Host, r.RequestURI, r.RemoteAddr = h.header, h.host, h.target, c.remote
	r.ContentLength, r.Close, r.Body = h.contentLength, h.close, http.NoBody
	c.body.start(h.contentLength)
	if h.contentLength > 0 {
		r.Body = &c.body
		if int64(c.br.Buffered()) < h.contentLength && !c.deadline.IsZero() {
			c.setDeadline(time.Time{}) // the body may take its time, as with net/http
		}
	}
	c.w.reset(h.method, h.close || c.s.draining.Load())
	c.w.start = time.Now()
	c.started.Store(c.w.start.UnixNano())
	ok := c.run(r)
	c.endRequest()
	if c.w.hijacked {
		c.done = true // the handler owns nc now
		return false
	}
	if !ok {
		c.w.release()
		return false
	}
	if !c.body.end() {
		c.w.closeAfter = true // unread body bytes not here yet: do not wait for them
		c.linger = true
	}
	if c.s.draining.Load() && !c.w.committed {
		c.w.closeAfter = true
	}
	c.w.finish()
	return !c.w.closeAfter && c.w.err == nil
}

// run calls the handler; it reports false when the handler panicked.
func (c *conn) run(r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.s.log().Error("handler panicked; closing the connection", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	c.s.Handler.ServeHTTP(&c.w, r)
	return true
}

// endRequest stops watching the client of the request that ended.
func (c *conn) endRequest() {
	c.started.Store(0)
	c.mu.Lock()
	c.unwatchLocked()
	c.req = nil // the request's context is no longer ours to keep
	c.mu.Unlock()
}

func (c *conn) unwatchLocked() {
	if c.watched {
		c.s.Hangups.Unwatch(c.watch)
		c.watched = false
	}
}

// watchIfLong watches the client of a request that has run for a while,
// so that it is cancelled if the client hangs up.
func (c *conn) watchIfLong(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.started.Load()
	if st == 0 || c.watched || now.UnixNano()-st < int64(sweepEvery) {
		return
	}
	// gone runs under the watcher's lock, which Unwatch (called with c.mu
	// held) takes: it must not take c.mu.
	req := c.req
	c.watch, c.watched = c.s.Hangups.Watch(c.nc, func() {
		c.gone.Store(true)
		req.end(errClientGone)
	})
}

// hijack gives the connection to the handler: the loop forgets it.
func (c *conn) hijack() {
	c.mu.Lock()
	c.unwatchLocked()
	c.mu.Unlock()
	c.nc.SetDeadline(time.Time{})
	c.s.forget(c)
	c.br = nil // the hijacker reads what is buffered
}

// handOff gives the connection, with what was read of it, to net/http.
func (c *conn) handOff() {
	c.done = true
	n := c.br.Buffered()
	b, _ := c.br.Peek(n)
	ahead := append([]byte(nil), b...)
	c.release()
	c.s.forget(c)
	c.nc.SetReadDeadline(time.Time{})
	if !c.s.HandOff(c.nc, ahead) {
		c.nc.Close()
	}
}

func (c *conn) close() {
	c.done = true
	c.mu.Lock()
	c.unwatchLocked()
	c.mu.Unlock()
	if c.linger {
		c.lingerClose()
	}
	c.nc.Close()
	c.release()
	c.s.forget(c)
}

// Closing with request bytes unread makes the kernel answer the client's
// next segment with a reset, which can destroy the response before the
// client reads it (a 413 for a body still being sent, say). So, as
// net/http does, the connection first sends its FIN and waits up to
// lingerTime, reading (and dropping) up to lingerBytes of what the client
// still sends: a client that closes too ends the wait at once.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

func (c *conn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	until := time.Now().Add(lingerTime)
	c.nc.SetReadDeadline(until)
	var buf [4 << 10]byte
	for n := 0; n < lingerBytes; {
		k, err := c.nc.Read(buf[:])
		n += k
		if err != nil {
			return
		}
	}
	// Still sending: stop reading, so that its window fills and its
	// writes stall rather than fail, and give it the rest of the time to
	// read the response.
	time.Sleep(time.Until(until))
}

// maxDrain is the most unread request body the connection skips to
// serve the next request, when it is already here.
const maxDrain = 256 << 10

// body is a request body of known length; a connection reuses it.
type body struct {
	c      *conn
	mu     sync.Mutex
	left   int64
	closed bool
	err    error
}

func (b *body) start(n int64) {
	b.mu.Lock()
	b.left, b.closed, b.err = n, false, nil
	b.mu.Unlock()
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed, b.c.br == nil:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	case b.left == 0:
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		err = io.EOF
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	if err != io.EOF {
		b.err = err
	}
	return n, err
}

// Close ends the handler's reading; the connection skips the rest.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// end closes the body once the handler has returned and skips what is
// left of it. It reports false when that is not possible without waiting
// (or a read failed, or a reader still holds the body): the connection
// then closes after the response.
func (b *body) end() bool {
	if !b.mu.TryLock() {
		return false // a goroutine the handler started still reads it
	}
	defer b.mu.Unlock()
	b.closed = true
	if b.err != nil {
		return false
	}
	if b.left == 0 {
		return true
	}
	if b.left > maxDrain || int64(b.c.br.Buffered()) < b.left {
		return false
	}
	b.c.br.Discard(int(b.left))
	b.left = 0
	return true
}
