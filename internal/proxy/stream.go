package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/hangup"
	"github.com/aimesh/aimesh/internal/proxy/h1"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/internal/sockio"
)

// A Stream relays one streaming response (an event stream, or a body of
// unknown length) from an HTTP/1.1 upstream connection to the client's
// HTTP/1.1 connection, both taken out of net/http: one goroutine, and no
// buffer while the stream waits for its next event (it reads only once the
// upstream socket is readable, into a pooled buffer it hands back right
// after writing). An open LLM stream often waits for seconds between
// events and thousands are open at once, so what an idle stream holds is
// what the gateway's memory is made of.
//
// The upstream's framing is kept: a chunked body passes through as is
// (followed by a scanner to see where it ends), a body with a length is
// counted, and one that ends when the upstream closes is sent chunked. When
// the body ended cleanly the client connection goes back to its listener to
// serve the next request.
type Stream struct {
	f       *Forwarder
	streams *Streams
	client  net.Conn
	ahead   []byte // client bytes read ahead of the response (a pipelined request)
	up      net.Conn
	raw     syscall.RawConn
	framing h1.Framing
	left    int64 // FramingLength: body bytes still to come
	chunks  chunkScan
	pending []byte // upstream body bytes read with the headers: sent first
	head    []byte // response head, sent with the first bytes

	keep     bool // the client connection may serve another request
	resume   func(net.Conn, []byte) bool
	idle     time.Duration
	deadline time.Time // end of the perRequest timeout (zero: none)
	start    time.Time // of the request, for TTFB
	done     bool      // the body ended cleanly

	t      *snapshot.Target
	ep     *discovery.Endpoint
	tokens int64
	res    Result
	cut    atomic.Bool
	onEnd  func(*Result)

	handedBack bool          // the client connection went back to its listener (guarded by Streams.mu)
	watch      hangup.Handle // of the client connection, watched for a hang-up
	gone       atomic.Bool   // the client hung up
}

// Start relays the stream in its own goroutine; onEnd gets the final
// Result when it ended (for metrics and the access log). The caller must
// call Start exactly once for a Result that carries a Stream.
func (s *Stream) Start(onEnd func(*Result)) {
	s.onEnd = onEnd
	go s.run()
}

// streamable reports whether resp can be relayed by a Stream: a streaming
// response from a plaintext HTTP/1.1 upstream to a plaintext HTTP/1.1
// client, with somewhere to hand the client connection back to. (The
// caller also makes sure the request body was read to its end.)
func (f *Forwarder) streamable(r *http.Request, resp *http.Response, p *Plan, stream bool) bool {
	return stream && f.Streams != nil && p.Resume != nil &&
		r.ProtoMajor == 1 && r.ProtoMinor == 1 && r.TLS == nil && r.Method != http.MethodHead &&
		resp.StatusCode >= 200 && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified
}

// handOff takes resp's upstream connection and the client connection out
// of net/http into a Stream (res.Stream, which the caller starts). It
// returns false, having changed nothing, when resp's body is not an h1
// connection's; the caller then relays through net/http. When the
// connection is taken but the client's cannot be, the client gets a 502.
func (f *Forwarder) handOff(w http.ResponseWriter, r *http.Request, resp *http.Response, cancelAttempt context.CancelCauseFunc,
	ep *discovery.Endpoint, p *Plan, idle time.Duration, start, deadline time.Time, res *Result) (handled bool) {
	d, ok := h1.Detach(resp.Body)
	if !ok {
		return false
	}
	cancelAttempt(nil) // the connection is ours now: the attempt's context has nothing left to cancel
	giveUp := func() bool {
		d.Conn.Close()
		if ep != nil {
			f.releaseEnd(res.Target, ep, p.Pick.Tokens, 0, "reset")
		}
		f.fail(w, r, res, http.StatusBadGateway, "reset", "upstream_error", "the upstream stream could not be relayed")
		return true
	}
	sc, ok := d.Conn.(syscall.Conn)
	if !ok {
		return giveUp()
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return giveUp()
	}
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	announceTrailers(h, resp.Trailer)
	head := appendHead(nil, resp, h, d.Framing, r.Close || p.Draining)
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		clear(h)
		return giveUp() // a ResponseWriter that cannot be taken over
	}
	s := &Stream{f: f, streams: f.Streams, client: client, up: d.Conn, raw: raw, framing: d.Framing, left: d.Remaining,
		pending: d.Buffered, head: head, keep: !r.Close && !p.Draining, resume: p.Resume, idle: idle,
		deadline: deadline, start: start, t: res.Target, ep: ep, tokens: p.Pick.Tokens}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		s.ahead = append([]byte(nil), b...)
	}
	res.Code = resp.StatusCode
	s.res = *res
	res.Stream = s
	f.Streams.add(s)
	s.watch, _ = f.Streams.hang.Watch(client, s.clientGone)
	return true
}

// appendHead writes the HTTP/1.1 response head for the client.
func appendHead(b []byte, resp *http.Response, h http.Header, framing h1.Framing, closing bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.StatusCode), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(resp.StatusCode)...)
	b = append(b, "\r\n"...)
	for k, vs := range h {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if framing == h1.FramingLength {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, resp.ContentLength, 10)
		b = append(b, "\r\n"...)
	} else {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendHeaderValue appends v with any CR or LF replaced by a space, as
// net/http does, so that a header value cannot start another header.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// releaseEnd ends what acquire counted, for an attempt that has no Plan
// left (a Stream outlives its request's state).
func (f *Forwarder) releaseEnd(t *snapshot.Target, ep *discovery.Endpoint, tokens int64, code int, failure string) {
	ep.InFlight.Add(-1)
	ep.State.InFlightTokens.Add(-tokens)
	if f.Balancer != nil {
		f.Balancer.Done(t, ep, nil, code, failure)
	}
}

var errStreamCut = errors.New("stream cut by the drain deadline")

// run relays until the body ends, either side fails, or a timeout.
func (s *Stream) run() {
	defer s.end()
	head, pending := s.head, s.pending
	s.head, s.pending = nil, nil
	if !s.forward(head, pending) {
		return
	}
	for !s.done {
		if err := s.up.SetReadDeadline(s.nextDeadline()); err != nil {
			s.abort(err)
			return
		}
		if s.cut.Load() {
			s.abort(errStreamCut)
			return
		}
		bp, n, err := s.read()
		if n > 0 {
			ok := s.forward(nil, (*bp)[:n])
			sseBufPool.Put(bp)
			if !ok {
				return
			}
			continue
		}
		if err == io.EOF && s.framing == h1.FramingUntilClose {
			// The upstream closed: that is the end of this body.
			if _, werr := s.client.Write(lastChunk); werr != nil {
				s.res.Failure = "client_gone"
				return
			}
			s.done = true
			return
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		s.abort(err)
		return
	}
}

var (
	lastChunk = []byte("0\r\n\r\n")
	crlf      = []byte("\r\n")
)

// nextDeadline is when the next upstream read gives up: the idle timeout
// from now, or the perRequest end if sooner.
func (s *Stream) nextDeadline() time.Time {
	var d time.Time
	if s.idle > 0 {
		d = time.Now().Add(s.idle)
	}
	if !s.deadline.IsZero() && (d.IsZero() || s.deadline.Before(d)) {
		d = s.deadline
	}
	return d
}

// read waits until the upstream socket is readable and only then takes a
// buffer from the pool, so that a waiting stream holds none.
func (s *Stream) read() (*[]byte, int, error) {
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	err := s.raw.Read(func(fd uintptr) bool {
		b := sseBufPool.Get().(*[]byte)
		for {
			n, rerr = sockio.ReadFD(fd, *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			sseBufPool.Put(b)
			return false
		}
		bp = b
		return true
	})
	switch {
	case err != nil:
		if bp != nil {
			sseBufPool.Put(bp)
		}
		return nil, 0, err
	case rerr != nil:
		sseBufPool.Put(bp)
		return nil, 0, rerr
	case n <= 0:
		sseBufPool.Put(bp)
		return nil, 0, io.EOF
	}
	return bp, n, nil
}

// forward writes head (the response head, first time only) and the body
// bytes b to the client in the client's framing, and notes where the body
// ends. It reports whether the stream goes on.
func (s *Stream) forward(head, b []byte) bool {
	var payload int64
	switch s.framing {
	case h1.FramingLength:
		if int64(len(b)) > s.left {
			b = b[:s.left] // bytes past the body: the upstream connection is not reused anyway
		}
		s.left -= int64(len(b))
		payload = int64(len(b))
		s.done = s.left == 0
	case h1.FramingChunked:
		used, n, err := s.chunks.scan(b)
		if err != nil {
			s.abort(err)
			return false
		}
		b, payload = b[:used], n
		s.done = s.chunks.done()
	default: // until close: each read becomes one chunk
		payload = int64(len(b))
	}
	if payload > 0 && s.res.TTFB == 0 {
		s.res.TTFB = time.Since(s.start)
	}
	var err error
	switch {
	case s.framing == h1.FramingUntilClose && len(b) > 0:
		var size [20]byte
		bufs := net.Buffers{head, append(strconv.AppendInt(size[:0], int64(len(b)), 16), '\r', '\n'), b, crlf}
		_, err = bufs.WriteTo(s.client)
	case len(head) > 0 && len(b) > 0:
		bufs := net.Buffers{head, b}
		_, err = bufs.WriteTo(s.client)
	case len(head) > 0:
		_, err = s.client.Write(head)
	case len(b) > 0:
		_, err = s.client.Write(b)
	}
	if err != nil {
		s.res.Failure = "client_gone"
		s.done = false
		return false
	}
	s.res.BytesSent += payload
	return true
}

// clientGone ends the stream of a client that hung up: closing the
// upstream connection wakes the relay and tells the model server.
func (s *Stream) clientGone() {
	s.gone.Store(true)
	s.up.Close()
}

// abort ends a stream that failed: the client connection is cut, so the
// client sees an error rather than a short but well-formed response.
func (s *Stream) abort(err error) {
	switch {
	case s.gone.Load():
		s.res.Failure = "client_gone"
	case s.cut.Load() || errors.Is(err, errStreamCut):
		s.res.Failure = "drain_timeout"
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.res.Failure = deadlineFailure(s.deadline)
	case errors.Is(err, errBadChunk):
		s.res.Failure = "reset"
	default:
		s.res.Failure = classify(err)
	}
	s.f.Log.Debug("upstream stream failed; cutting the client connection", "upstream", s.res.Upstream, "err", err)
	s.done = false
}

// end closes or hands back both connections, releases the endpoint and
// reports the result.
func (s *Stream) end() {
	defer s.streams.remove(s)
	s.streams.hang.Unwatch(s.watch) // before the connection closes or goes back
	s.up.Close()
	code := s.res.Code
	if s.ep != nil {
		s.f.releaseEnd(s.t, s.ep, s.tokens, code, s.res.Failure)
	}
	// The record goes first: once the connection is back, its next
	// request may be served and logged at once, and logs keep the order
	// requests were answered in.
	if s.onEnd != nil {
		s.onEnd(&s.res)
	}
	if !(s.done && s.keep && s.streams.handBack(s) && s.resume(s.client, s.ahead)) {
		s.client.Close()
	}
}
