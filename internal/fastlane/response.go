package fastlane

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// bufSize is the most a response buffers before it goes out: a body that
// fits, and ends with the handler, is sent with a Content-Length in one
// write with its head.
const bufSize = 4 << 10

// bufPool holds *buffer so that putting one back allocates nothing.
var bufPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, bufSize)} }}

type buffer struct{ b []byte }

func getBuf() []byte {
	p := bufPool.Get().(*buffer)
	b := p.b[:0]
	p.b = nil
	boxPool.Put(p)
	return b
}

// boxPool recycles the boxes of buffers in use.
var boxPool = sync.Pool{New: func() any { return new(buffer) }}

func putBuf(b []byte) {
	if cap(b) > 4*bufSize {
		return // grown by a large head: let it go
	}
	p := boxPool.Get().(*buffer)
	p.b = b[:0]
	bufPool.Put(p)
}

// response is the http.ResponseWriter of one request. A connection
// reuses its response (and the header map) for request after request.
type response struct {
	c      *conn
	method string
	header http.Header

	status      int  // final status (0: not yet written)
	bodyless    bool // 1xx, 204, 304: no body; HEAD: body discarded
	isHead      bool
	length      int64 // declared Content-Length, -1: none
	written     int64 // body bytes the handler wrote
	trailers    []string
	committed   bool // the head is composed (framing decided) into out
	chunked     bool
	closeAfter  bool
	head, body  []byte // before commit: head without framing, body so far
	out         []byte // after commit: what is still to be written
	err         error  // the connection failed: every later write fails
	hijacked    bool
	handlerDone bool
	start       time.Time // when the request began
}

func (w *response) reset(method string, closeAfter bool) {
	clear(w.header)
	w.method, w.isHead = method, method == http.MethodHead
	w.status, w.bodyless, w.length, w.written = 0, false, -1, 0
	w.trailers, w.committed, w.chunked, w.closeAfter = w.trailers[:0], false, false, closeAfter
	w.err, w.hijacked, w.handlerDone = nil, false, false
}

func (w *response) Header() http.Header { return w.header }

// RequestStart reports when the request began (its head was read), so
// that a handler timing it needs no clock read of its own.
func (w *response) RequestStart() time.Time { return w.start }

// WriteHeader composes the status line and the handler's header fields;
// fields set later are not sent (trailers excepted), as with net/http.
func (w *response) WriteHeader(code int) {
	if w.hijacked || w.handlerDone {
		return
	}
	if code < 100 || code > 999 {
		panic("fastlane: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.status != 0 {
		return // superfluous, as net/http ignores it
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.status = code
	w.bodyless = code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.header["Content-Length"]; len(v) == 1 {
		if n, ok := parseLength(strings.TrimSpace(v[0])); ok {
			w.length = n
		}
	}
	if v, ok := w.header["Connection"]; ok && len(v) > 0 && hasToken(strings.Join(v, ","), "close") {
		w.closeAfter = true
	}
	for _, v := range w.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	w.head = appendStatus(getBuf(), code)
	w.head = appendFields(w.head, w.header, true)
	if _, ok := w.header["Date"]; !ok {
		w.head = append(w.head, "Date: "...)
		w.head = append(w.head, httpDate()...)
		w.head = append(w.head, "\r\n"...)
	}
}

// informational sends a 1xx response at once.
func (w *response) informational(code int) {
	b := appendStatus(getBuf(), code)
	b = appendFields(b, w.header, false)
	b = append(b, "\r\n"...)
	w.send(b)
	putBuf(b)
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.bodyless && !w.isHead {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	if len(p) == 0 {
		return 0, nil // an empty chunk would end a chunked body
	}
	w.written += int64(len(p))
	if w.isHead {
		return len(p), nil
	}
	if !w.committed {
		if w.body == nil {
			w.body = getBuf()
		}
		if len(w.body)+len(p) <= bufSize {
			w.body = append(w.body, p...)
			return len(p), nil
		}
		w.commit(false)
	}
	if w.chunked {
		w.out = strconv.AppendInt(w.out, int64(len(p)), 16)
		w.out = append(w.out, "\r\n"...)
	}
	if len(w.out)+len(p) <= bufSize {
		w.out = append(w.out, p...)
	} else {
		w.flushOut()
		w.send(p)
	}
	if w.chunked {
		w.out = append(w.out, "\r\n"...)
	}
	if len(w.out) >= bufSize {
		w.flushOut()
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush sends what is buffered; the head goes out with it.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	w.flushOut()
	return w.err
}

// commit decides the framing and moves head and body into out. final:
// the handler has returned, so a buffered body's length is known.
func (w *response) commit(final bool) {
	w.committed = true
	b := w.head
	switch {
	case w.bodyless && !w.isHead:
	case w.length >= 0:
		b = appendLength(b, w.length)
	case w.isHead:
		if final && w.written > 0 {
			b = appendLength(b, w.written)
		}
	case final && len(w.trailers) == 0:
		b = appendLength(b, int64(len(w.body)))
	default:
		w.chunked = true
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if len(w.body) > 0 {
		if w.chunked {
			b = strconv.AppendInt(b, int64(len(w.body)), 16)
			b = append(b, "\r\n"...)
		}
		b = append(b, w.body...)
		if w.chunked {
			b = append(b, "\r\n"...)
		}
	}
	if w.body != nil {
		putBuf(w.body)
		w.body = nil
	}
	w.head, w.out = nil, b
}

// finish ends the response once the handler has returned: it sends what
// is left, the last chunk and trailers included.
func (w *response) finish() {
	if w.status == 0 && !w.hijacked {
		w.WriteHeader(http.StatusOK) // before handlerDone, which makes it a no-op
	}
	w.handlerDone = true
	if w.hijacked {
		return
	}
	if !w.committed {
		w.commit(true)
	}
	if w.chunked {
		w.out = append(w.out, "0\r\n"...)
		w.out = w.appendTrailers(w.out)
		w.out = append(w.out, "\r\n"...)
	}
	w.flushOut()
	if w.length >= 0 && w.written < w.length && !w.isHead && !w.bodyless {
		w.closeAfter = true // a short body: only closing tells the client
	}
	putBuf(w.out)
	w.out = nil
}

// release returns the buffers of a response that will not finish (its
// handler panicked).
func (w *response) release() {
	for _, b := range [][]byte{w.head, w.body, w.out} {
		if b != nil {
			putBuf(b)
		}
	}
	w.head, w.body, w.out = nil, nil, nil
}

func (w *response) appendTrailers(b []byte) []byte {
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			b = appendField(b, k, v)
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				b = appendField(b, name, v)
			}
		}
	}
	return b
}

func (w *response) flushOut() {
	if len(w.out) > 0 {
		w.send(w.out)
		w.out = w.out[:0]
	}
}

func (w *response) send(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.c.nc.Write(b); err != nil {
		w.err, w.closeAfter = err, true
	}
}

// Hijack hands the connection over, with what the client sent beyond the
// request in the reader. Deadlines are cleared, as net/http does.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked || w.handlerDone {
		return nil, nil, http.ErrHijacked
	}
	if w.committed {
		w.flushOut()
	}
	w.hijacked = true
	w.release()
	c := w.c
	br := c.br
	c.hijack()
	return c.nc, bufio.NewReadWriter(br, bufio.NewWriterSize(c.nc, 64)), nil
}

// errNotSupported is what deadline setters of http.ResponseController
// get: the fast lane leaves connection deadlines to itself.
var errNotSupported = errors.New("fastlane: not supported")

func (w *response) SetReadDeadline(time.Time) error  { return errNotSupported }
func (w *response) SetWriteDeadline(time.Time) error { return errNotSupported }

func appendStatus(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// appendFields writes the handler's header fields; final leaves out what
// the fast lane writes itself (framing, Connection) and trailers.
func appendFields(b []byte, h http.Header, final bool) []byte {
	for k, vs := range h {
		if final {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
				continue
			}
			if strings.HasPrefix(k, http.TrailerPrefix) {
				continue
			}
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	if final {
		if vs, ok := h["Trailer"]; ok && len(vs) > 0 {
			b = appendField(b, "Trailer", strings.Join(vs, ", "))
		}
	}
	return b
}

// appendField writes "k: v", with CR and LF in v turned into spaces as
// net/http does, so a value cannot end the field early.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, "\r\n"...)
}

func appendLength(b []byte, n int64) []byte {
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "\r\n"...)
}

// date caches the Date header value for the current second.
var date atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	if d := date.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateValue{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	date.Store(d)
	return d.s
}
