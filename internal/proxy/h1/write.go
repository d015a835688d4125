package h1

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

const (
	// inlineMax is the largest in-memory body sent in the same write as
	// the head.
	inlineMax = 16 << 10
	// keepBufMax is the largest head buffer given back to the pool.
	keepBufMax  = 64 << 10
	copyBufSize = 32 << 10
)

// outgoing is a request ready to be written: its head (and a small
// in-memory body) in one pooled buffer, and the body to stream after it.
// It lives for one RoundTrip; a retry writes the same head again.
type outgoing struct {
	buf     []byte        // the head, followed by the body when inline
	inline  bool          // buf holds the whole body
	mem     io.Reader     // the in-memory reader when body is one
	body    io.ReadCloser // streamed after the head; nil when none or inline
	length  int64         // body bytes to stream; -1: chunked
	getBody func() (io.ReadCloser, error)
	trailer http.Header
	close   bool // the request asks the upstream to close the connection
	started bool // reading body began: another write needs GetBody
}

var outgoingPool = sync.Pool{New: func() any { return &outgoing{buf: make([]byte, 0, 4<<10)} }}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// abortError is a request that could not be sent in full for a reason
// other than the connection: its body failed to read, was short, or its
// trailers were invalid. The request is not retried.
type abortError struct{ err error }

func (e *abortError) Error() string { return "request body: " + e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

// newOutgoing validates req and builds its head. On error the caller
// still owns req.Body.
func newOutgoing(req *http.Request) (*outgoing, error) {
	o := outgoingPool.Get().(*outgoing)
	if err := o.build(req); err != nil {
		o.body = nil // the caller closes req.Body
		o.free()
		return nil, err
	}
	return o, nil
}

func (o *outgoing) build(req *http.Request) error {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return fmt.Errorf("h1: invalid method %q", method)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if host == "" || !validURIPart(host) {
		return fmt.Errorf("h1: invalid Host %q", host)
	}
	b := append(o.buf[:0], method...)
	b = append(b, ' ')
	start := len(b)
	b = appendRequestURI(b, req.URL)
	if !validURIPart(b[start:]) {
		return fmt.Errorf("h1: invalid request URI %q", b[start:])
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vv := range req.Header {
		if excludedHeader(k) {
			continue
		}
		if !validToken(k) {
			return fmt.Errorf("h1: invalid header name %q", k)
		}
		for _, v := range vv {
			if !validValue(v) {
				return fmt.Errorf("h1: invalid value for header %q: control characters (CR, LF) are not allowed", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	o.close = req.Close || hasToken(req.Header["Connection"], "close")
	if req.Close && !hasToken(req.Header["Connection"], "close") {
		b = append(b, "Connection: close\r\n"...)
	}

	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	o.length = 0
	if body != nil {
		if r, n, ok := inMemory(body); ok {
			if req.ContentLength > 0 && req.ContentLength != n {
				return fmt.Errorf("h1: ContentLength=%d with a %d-byte body", req.ContentLength, n)
			}
			o.mem, o.length = r, n
		} else if req.ContentLength > 0 {
			o.length = req.ContentLength
		} else {
			o.length = -1
		}
	} else if req.ContentLength > 0 {
		return fmt.Errorf("h1: ContentLength=%d with no body", req.ContentLength)
	}
	switch {
	case o.length > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, o.length, 10)
		b = append(b, "\r\n"...)
	case o.length < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(req.Trailer) > 0 {
			for k := range req.Trailer {
				if !validToken(k) || excludedHeader(k) {
					return fmt.Errorf("h1: invalid trailer name %q", k)
				}
			}
			b = appendTrailerNames(b, req.Trailer)
			o.trailer = req.Trailer
		}
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, "\r\n"...)

	switch {
	case body != nil && o.length == 0: // an empty in-memory body
		body.Close()
		o.mem, body = nil, nil
	case o.mem != nil && o.length <= inlineMax: // one write for all
		head := len(b)
		b = append(b, make([]byte, o.length)...)
		_, err := io.ReadFull(o.mem, b[head:])
		body.Close()
		if err != nil {
			return fmt.Errorf("h1: read in-memory body: %w", err)
		}
		o.inline, o.mem, body = true, nil, nil
	}
	o.buf, o.body, o.getBody = b, body, req.GetBody
	return nil
}

// replayable reports whether the request can be written again: it has
// no body to stream, none of it was read yet, or GetBody gives another.
func (o *outgoing) replayable() bool {
	return !o.started || o.getBody != nil
}

// rewind prepares the body for another write, from req.GetBody when some
// of it was read.
func (o *outgoing) rewind() error {
	if !o.started {
		return nil
	}
	o.started = false
	o.closeBody()
	body, err := o.getBody()
	if err != nil {
		return fmt.Errorf("h1: GetBody: %w", err)
	}
	o.body = body
	o.mem = nil
	if r, n, ok := inMemory(body); ok && (o.length < 0 || n == o.length) {
		o.mem = r
	}
	return nil
}

// awaitWriter is a connection that can write and then wait until the
// answer is there to read (sockio.Conn): the upstream sends nothing
// unasked on an HTTP/1.1 connection.
type awaitWriter interface {
	WriteAwaitRead(p []byte) (int, error)
}

// writeTo writes the request. headSent reports that the head went out,
// after which the upstream may have seen the request.
func (o *outgoing) writeTo(w io.Writer) (headSent bool, err error) {
	if aw, ok := w.(awaitWriter); ok && o.body == nil {
		// The whole request is in buf and the answer is next: wait for
		// it without a read that would find nothing yet.
		if _, err := aw.WriteAwaitRead(o.buf); err != nil {
			return false, err
		}
		return true, nil
	}
	if _, err := w.Write(o.buf); err != nil {
		return false, err
	}
	if o.body == nil {
		return true, nil
	}
	o.started = true
	defer o.closeBody()
	if o.mem != nil && o.length >= 0 {
		// A large in-memory body: one write of all of it.
		n, err := io.Copy(w, o.mem)
		if err == nil && n != o.length {
			err = &abortError{fmt.Errorf("%d bytes instead of ContentLength=%d", n, o.length)}
		}
		return true, err
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	if o.length >= 0 {
		return true, copyLength(w, o.body, o.length, *bp)
	}
	return true, copyChunked(w, o.body, o.trailer, *bp)
}

func copyLength(w io.Writer, r io.Reader, length int64, buf []byte) error {
	for length > 0 {
		p := buf
		if int64(len(p)) > length {
			p = p[:length]
		}
		n, rerr := r.Read(p)
		if n > 0 {
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			length -= int64(n)
		}
		switch {
		case rerr == io.EOF && length > 0:
			return &abortError{fmt.Errorf("%w: %d bytes short of ContentLength", io.ErrUnexpectedEOF, length)}
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return &abortError{rerr}
		}
	}
	return nil
}

func (o *outgoing) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// free closes a body not sent and returns o to the pool.
func (o *outgoing) free() {
	o.closeBody()
	if cap(o.buf) > keepBufMax {
		o.buf = make([]byte, 0, 4<<10)
	}
	*o = outgoing{buf: o.buf[:0]}
	outgoingPool.Put(o)
}

// appendRequestURI appends u's origin-form request target: the escaped
// path (RawPath kept as is when it is a valid encoding of Path) and the
// raw query.
func appendRequestURI(b []byte, u *url.URL) []byte {
	if u.Opaque != "" {
		return append(b, u.RequestURI()...)
	}
	p := u.EscapedPath()
	if p == "" {
		b = append(b, '/')
	} else {
		if p[0] != '/' && p != "*" {
			b = append(b, '/')
		}
		b = append(b, p...)
	}
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}

func appendTrailerNames(b []byte, t http.Header) []byte {
	b = append(b, "Trailer: "...)
	first := true
	for k := range t {
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, k...)
	}
	return append(b, "\r\n"...)
}

// excludedHeader reports the header fields the client writes itself.
func excludedHeader(k string) bool {
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "Host")
	case 7:
		return strings.EqualFold(k, "Trailer")
	case 14:
		return strings.EqualFold(k, "Content-Length")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	}
	return false
}

var (
	nopCloserType         = reflect.TypeOf(io.NopCloser(nil))
	nopCloserWriterToType = reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{}))
)

// BytesBody is a request body held in memory. The Client knows it as
// one, like a *bytes.Reader in io.NopCloser: it goes out with Content-Length,
// in the same write as the head when small. Unlike that pair it costs no
// allocation when a caller keeps one value and Resets it for each request;
// the Client is done with it when RoundTrip returns. Close does nothing.
type BytesBody struct{ bytes.Reader }

// Close does nothing: the bytes stay the caller's.
func (*BytesBody) Close() error { return nil }

// inMemory returns the reader behind body and its length when reading it
// cannot block: a *BytesBody, or a *bytes.Reader, *bytes.Buffer or
// *strings.Reader, bare or in io.NopCloser.
func inMemory(body io.Reader) (io.Reader, int64, bool) {
	if b, ok := body.(*BytesBody); ok {
		return &b.Reader, int64(b.Len()), true
	}
	r := body
	if t := reflect.TypeOf(r); t == nopCloserType || t == nopCloserWriterToType {
		inner, ok := reflect.ValueOf(r).Field(0).Interface().(io.Reader)
		if !ok {
			return nil, 0, false
		}
		r = inner
	}
	switch m := r.(type) {
	case *bytes.Reader:
		return m, int64(m.Len()), true
	case *bytes.Buffer:
		return m, int64(m.Len()), true
	case *strings.Reader:
		return m, int64(m.Len()), true
	}
	return nil, 0, false
}
