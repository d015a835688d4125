package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Framing is how a response body is delimited on its connection.
type Framing int

const (
	// FramingNone: the response has no body (HEAD, 204, 304,
	// Content-Length: 0).
	FramingNone Framing = iota
	// FramingLength: Content-Length bytes follow the head.
	FramingLength
	// FramingChunked: the chunked transfer coding.
	FramingChunked
	// FramingUntilClose: the body ends when the upstream closes the
	// connection.
	FramingUntilClose
)

func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "length"
	case FramingChunked:
		return "chunked"
	case FramingUntilClose:
		return "until-close"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

var (
	errBodyClosed = errors.New("h1: read on closed response body")
	errDetached   = errors.New("h1: read on detached response body")
)

// Who owns the connection of a body, decided once by compare-and-swap:
// the body's end gives it back to the pool (released), or a Close
// racing a blocked Read closes it (aborted).
const (
	connActive int32 = iota
	connReleased
	connAborted
)

// body is a response body read straight off its connection. Reading it
// to the end puts the connection back in the pool; closing it early
// closes the connection. Close may be called while a Read blocks: it
// closes the connection to end that Read.
type body struct {
	mu    sync.Mutex // held by Read, Close and Detach
	state atomic.Int32
	nc    net.Conn // for Close to end a blocked Read

	ctx       context.Context
	resp      *http.Response // for trailers
	cn        *conn          // nil once the connection is released
	br        *bufio.Reader
	watch     ctxWatch // cancels cn when ctx ends
	keepAlive bool

	framing   Framing
	remaining int64 // FramingLength: body bytes left; FramingChunked: bytes left in the chunk
	cs        chunkState
	err       error // returned by every Read once set

	idle     time.Duration // SetReadLimits
	deadline time.Time
}

// SetReadLimits bounds each later Read of rc, a response body from
// RoundTrip: it fails with an error wrapping os.ErrDeadlineExceeded when
// no byte arrived within idle (0: no bound) or at deadline (zero: none).
// Like RoundTripDeadline it needs no timer. It reports whether rc is one
// of this package's bodies.
func SetReadLimits(rc io.ReadCloser, idle time.Duration, deadline time.Time) bool {
	b, ok := rc.(*body)
	if !ok {
		return false
	}
	b.mu.Lock()
	b.idle, b.deadline = idle, deadline
	b.mu.Unlock()
	return true
}

// limitRead sets the connection's read deadline for the next read.
func (b *body) limitRead() {
	d := b.deadline
	if b.idle > 0 {
		if i := time.Now().Add(b.idle); d.IsZero() || i.Before(d) {
			d = i
		}
	}
	b.nc.SetReadDeadline(d)
	if b.ctx.Err() != nil {
		b.nc.SetReadDeadline(aLongTimeAgo) // a cancellation that came first stays
	}
}

func (b *body) init(ctx context.Context, resp *http.Response, cn *conn, br *bufio.Reader, watch ctxWatch, keepAlive bool, fr Framing, length int64) {
	b.ctx, b.resp, b.cn, b.nc, b.br, b.watch = ctx, resp, cn, cn.nc, br, watch
	b.keepAlive, b.framing, b.remaining = keepAlive, fr, length
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if (b.idle > 0 || !b.deadline.IsZero()) && b.br.Buffered() == 0 {
		b.limitRead()
	}
	var n int
	var err error
	switch b.framing {
	case FramingLength:
		n, err = b.readLength(p)
	case FramingChunked:
		n, err = b.readChunked(p)
	case FramingUntilClose:
		n, err = b.br.Read(p)
	default:
		err = io.EOF
	}
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		b.release(true)
	} else {
		err = b.readError(err)
		b.release(false)
	}
	b.err = err
	return n, err
}

func (b *body) readLength(p []byte) (int, error) {
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readError is the error a failed Read returns: the context's cause when
// it ended the read, io.ErrUnexpectedEOF for a body cut short.
func (b *body) readError(err error) error {
	switch {
	case ctxEnded(b.ctx):
		return ctxError(b.ctx, "read body")
	case b.state.Load() == connAborted:
		return errBodyClosed
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("h1: read body: %w", err)
}

// release ends the body's hold on its connection: back to the pool when
// the body ended cleanly and the connection can carry another request,
// closed otherwise. b.mu is held.
func (b *body) release(clean bool) {
	cn, br := b.cn, b.br
	if cn == nil {
		return
	}
	b.cn, b.br = nil, nil
	fired := b.watch.end()
	reuse := clean && b.keepAlive && !fired && br.Buffered() == 0 &&
		b.state.CompareAndSwap(connActive, connReleased)
	putReader(br)
	if reuse && (b.idle > 0 || !b.deadline.IsZero()) {
		cn.nc.SetReadDeadline(time.Time{})
	}
	if reuse {
		cn.hp.put(cn)
	} else {
		cn.hp.discard(cn)
	}
}

// Close ends the body. Unless the rest of the body is already buffered,
// the connection is closed, not drained: read to io.EOF first to keep it.
func (b *body) Close() error {
	if !b.mu.TryLock() {
		// A Read holds the lock and may be blocked: end it.
		if b.state.CompareAndSwap(connActive, connAborted) {
			b.nc.Close()
		}
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	if b.cn != nil {
		b.release(b.finishBuffered())
	}
	b.err = errBodyClosed
	return nil
}

// finishBuffered consumes the rest of the body when it is all in the
// read buffer, without blocking, and reports whether it did.
func (b *body) finishBuffered() bool {
	if b.err != nil {
		return false
	}
	switch b.framing {
	case FramingLength:
		if int64(b.br.Buffered()) >= b.remaining {
			b.br.Discard(int(b.remaining))
			b.remaining = 0
			return true
		}
	case FramingChunked:
		return b.atEnd()
	}
	return false
}

// Detached is the connection of an in-flight response, handed over by
// Detach.
type Detached struct {
	// Conn is the connection; the caller owns it and must close it.
	Conn net.Conn
	// Buffered holds the body bytes already read off Conn: they come
	// before anything read from Conn. For FramingLength it holds at most
	// Remaining bytes; for FramingChunked it is raw chunked data.
	Buffered []byte
	// Framing is how the rest of the body is delimited on Conn. For
	// FramingChunked, Buffered then Conn continue at the start of a chunk
	// size line.
	Framing Framing
	// Remaining is, for FramingLength, the body bytes not yet returned by
	// Read, those in Buffered included.
	Remaining int64
}

// Detach hands the connection behind rc, a resp.Body from RoundTrip, to
// the caller, for a copy path that bypasses Body.Read (splice, a flush
// per chunk). After Detach the body must not be read (Read returns an error,
// Close does nothing), the request's context no longer cancels the
// connection, the connection is never pooled and no longer counts
// against MaxConnsPerHost.
//
// ok is false when rc is not one of this package's bodies, when it has
// ended or failed, when its context has already ended, or when a chunked
// body is in the middle of a chunk (detach before the first Read, or at
// a chunk boundary).
func Detach(rc io.ReadCloser) (d *Detached, ok bool) {
	b, isBody := rc.(*body)
	if !isBody {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cn == nil || b.err != nil || (b.framing == FramingChunked && b.cs != csSize) {
		return nil, false
	}
	if b.watch.end() {
		return nil, false // the context ended: Read reports it
	}
	if !b.state.CompareAndSwap(connActive, connReleased) {
		return nil, false
	}
	d = &Detached{Conn: b.cn.nc, Framing: b.framing, Remaining: b.remaining}
	n := b.br.Buffered()
	if b.framing == FramingLength && int64(n) > b.remaining {
		n = int(b.remaining)
	}
	if n > 0 {
		buf, _ := b.br.Peek(n)
		d.Buffered = append([]byte(nil), buf...)
	}
	cn, br := b.cn, b.br
	b.cn, b.br, b.err = nil, nil, errDetached
	putReader(br)
	cn.hp.forget()
	return d, true
}
