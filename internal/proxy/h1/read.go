package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

const (
	readBufSize = 4 << 10
	// maxHeadBytes bounds a response head: status line and header fields.
	maxHeadBytes = 64 << 10
	// max1xx bounds the informational responses skipped before the final
	// one, like net/http.
	max1xx = 5
)

var (
	errHeaderTooLarge = errors.New("response header larger than 64 KiB")
	errUpgrade        = errors.New("upgrade not supported (101 Switching Protocols)")
)

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

// chunkedTE is resp.TransferEncoding of every chunked response; callers
// must not modify it.
var chunkedTE = []string{"chunked"}

// readResponse reads the head of the final response to req into resp,
// skipping 1xx responses, and returns how its body is framed. got
// reports whether any response byte arrived: a request is never retried
// after that. Header values use scratch when it is large enough.
func readResponse(br *bufio.Reader, resp *http.Response, req *http.Request, scratch []string) (fr Framing, length int64, got bool, err error) {
	if _, err := br.Peek(1); err != nil {
		return 0, 0, false, err
	}
	for n := 0; ; n++ {
		head, err := readHead(br)
		if err != nil {
			return 0, 0, true, err
		}
		line, rest, _ := strings.Cut(head, "\n")
		if err := parseStatusLine(strings.TrimSuffix(line, "\r"), resp); err != nil {
			return 0, 0, true, err
		}
		switch code := resp.StatusCode; {
		case code == http.StatusSwitchingProtocols:
			return 0, 0, true, errUpgrade
		case code >= 100 && code < 200:
			if n >= max1xx {
				return 0, 0, true, fmt.Errorf("more than %d informational responses", max1xx)
			}
			continue
		}
		if resp.Header, err = parseHeader(rest, scratch); err != nil {
			return 0, 0, true, err
		}
		fr, length, err = framing(resp, req)
		return fr, length, true, err
	}
}

// readHead returns one response head, from the status line to the empty
// line that ends it, as a single string: header keys and values are
// substrings of it, so a response allocates one string for all of them.
func readHead(br *bufio.Reader) (string, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf); end > 0 {
			s := string(buf[:end])
			br.Discard(end)
			return s, nil
		}
		if br.Buffered() == br.Size() {
			return readLongHead(br)
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// headEnd returns the length of the head at the start of buf, up to and
// including its empty line, or -1 when buf does not hold all of it.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		if i > 0 && (j == 0 || j == 1 && buf[i] == '\r') {
			return i + j + 1
		}
		i += j + 1
	}
}

// readLongHead reads a head that does not fit the read buffer, line by
// line, up to maxHeadBytes.
func readLongHead(br *bufio.Reader) (string, error) {
	acc := make([]byte, 0, 2*readBufSize)
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(acc)+len(frag) > maxHeadBytes {
			return "", errHeaderTooLarge
		}
		acc = append(acc, frag...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			return "", io.ErrUnexpectedEOF
		case err != nil:
			return "", err
		}
		if line := acc[lineStart:]; lineStart > 0 && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			return string(acc), nil
		}
		lineStart = len(acc)
	}
}

func parseStatusLine(line string, resp *http.Response) error {
	proto, status, ok := strings.Cut(line, " ")
	if !ok {
		return fmt.Errorf("malformed status line %q", clip(line))
	}
	switch proto {
	case "HTTP/1.1":
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		return fmt.Errorf("malformed HTTP version %q", clip(proto))
	}
	status = strings.TrimLeft(status, " ")
	code, _, _ := strings.Cut(status, " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return fmt.Errorf("malformed status code %q", clip(code))
	}
	resp.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	resp.Status = status
	return nil
}

// parseHeader parses the header lines of a head (after the status line,
// up to and including the empty line). Single values share one backing
// array: scratch when it has room for all fields.
func parseHeader(s string, scratch []string) (http.Header, error) {
	n := strings.Count(s, "\n") - 1
	if n < 0 {
		n = 0
	}
	h := newHeader(n)
	var vals []string
	if n <= len(scratch) {
		vals = scratch[:n:n]
	} else {
		vals = make([]string, n)
	}
	var last []string // the values of the previous field
	for len(s) > 0 {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: the line continues the previous value.
			if last == nil {
				return nil, fmt.Errorf("malformed header continuation %q", clip(line))
			}
			v := trimOWS(line)
			if !validValue(v) {
				return nil, fmt.Errorf("malformed header line %q", clip(line))
			}
			if v != "" {
				last[len(last)-1] = trimOWS(last[len(last)-1] + " " + v)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", clip(line))
		}
		key, ok := canonicalKey(k)
		if !ok {
			return nil, fmt.Errorf("malformed header name %q", clip(k))
		}
		v = trimOWS(v)
		if !validValue(v) {
			return nil, fmt.Errorf("malformed header value for %q", key)
		}
		vv := h[key]
		if vv == nil && len(vals) > 0 {
			vv, vals = vals[:1:1], vals[1:]
			vv[0] = v
		} else {
			vv = append(vv, v)
		}
		h[key] = vv
		last = vv
	}
	return h, nil
}

// headerPool holds the header maps of responses given back by Recycle,
// empty.
var headerPool sync.Pool

// maxRecycledHeader bounds the fields of a header map kept for reuse, so
// that one large response does not pin a large map.
const maxRecycledHeader = 32

// newHeader returns an empty header map for about n fields.
func newHeader(n int) http.Header {
	if h, ok := headerPool.Get().(http.Header); ok {
		return h
	}
	return make(http.Header, n)
}

// Recycle gives resp.Header, the header map of a response from a Client,
// back for a later response to reuse, and sets resp.Header to nil. Call
// it once nobody reads or writes that map any more: after the response
// is over, its fields copied out. The value slices are not reused, so
// copies of them (as a proxy puts in its own response header) stay
// valid.
func Recycle(resp *http.Response) {
	h := resp.Header
	resp.Header = nil
	if h == nil || len(h) > maxRecycledHeader {
		return
	}
	clear(h)
	headerPool.Put(h)
}

// framing sets the response's ContentLength, TransferEncoding, Trailer
// and Close from its header, like net/http, and returns how its body is
// delimited.
func framing(resp *http.Response, req *http.Request) (Framing, int64, error) {
	h := resp.Header
	conn := h["Connection"]
	if resp.ProtoMinor == 0 {
		resp.Close = !hasToken(conn, "keep-alive")
	} else {
		resp.Close = hasToken(conn, "close")
	}
	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		if resp.ProtoMinor > 0 {
			if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
				return 0, 0, fmt.Errorf("unsupported transfer encoding %q", te)
			}
			chunked = true
			resp.TransferEncoding = chunkedTE
		}
	}
	cl := int64(-1)
	if vv := h["Content-Length"]; len(vv) > 0 {
		for _, v := range vv[1:] {
			if v != vv[0] {
				return 0, 0, fmt.Errorf("multiple Content-Length values %q", vv)
			}
		}
		h["Content-Length"] = vv[:1:1]
		n, err := parseLength(vv[0])
		if err != nil {
			return 0, 0, fmt.Errorf("bad Content-Length %q", clip(vv[0]))
		}
		cl = n
	}
	if vv, ok := h["Trailer"]; ok && chunked {
		delete(h, "Trailer")
		t, err := announcedTrailer(vv)
		if err != nil {
			return 0, 0, err
		}
		resp.Trailer = t
	}
	code := resp.StatusCode
	switch {
	case req.Method == http.MethodHead:
		resp.ContentLength = cl
		return FramingNone, 0, nil
	case code/100 == 1 || code == http.StatusNoContent || code == http.StatusNotModified:
		resp.ContentLength = 0
		return FramingNone, 0, nil
	case chunked:
		delete(h, "Content-Length")
		resp.ContentLength = -1
		return FramingChunked, 0, nil
	case cl == 0:
		resp.ContentLength = 0
		return FramingNone, 0, nil
	case cl > 0:
		resp.ContentLength = cl
		return FramingLength, cl, nil
	}
	resp.ContentLength = -1
	resp.Close = true
	return FramingUntilClose, 0, nil
}

// parseLength parses a Content-Length value: digits only.
func parseLength(v string) (int64, error) {
	if v == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, errors.New("not a number")
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// announcedTrailer returns the trailer keys a Trailer header announces,
// with nil values filled in at the end of the body.
func announcedTrailer(vv []string) (http.Header, error) {
	t := make(http.Header)
	for _, v := range vv {
		for v != "" {
			var k string
			k, v, _ = strings.Cut(v, ",")
			if k = trimOWS(k); k == "" {
				continue
			}
			k = textproto.CanonicalMIMEHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, fmt.Errorf("bad trailer key %q", k)
			}
			t[k] = nil
		}
	}
	return t, nil
}

// canonicalKey validates a header name and returns its canonical form,
// without allocating when the name is already canonical (a substring of
// the head) or is a common one.
func canonicalKey(k string) (string, bool) {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !tokenChars[c] {
			return "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return recase(k)
		}
		upper = c == '-'
	}
	return k, k != ""
}

// recase canonicalizes a valid name that is not canonical (many servers
// send lower-case names).
func recase(k string) (string, bool) {
	var buf [64]byte
	if len(k) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(k), true
	}
	b := buf[:len(k)]
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if s, ok := commonHeaders[string(b)]; ok {
		return s, true
	}
	return string(b), true
}

// commonHeaders shares the names of common response fields.
var commonHeaders = func() map[string]string {
	names := []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Age", "Alt-Svc", "Cache-Control", "Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Type", "Date", "Etag", "Expires",
		"Keep-Alive", "Last-Modified", "Link", "Location", "Retry-After", "Server", "Set-Cookie",
		"Strict-Transport-Security", "Trailer", "Transfer-Encoding", "Vary", "Via",
		"Www-Authenticate", "X-Content-Type-Options", "X-Request-Id", "X-Ratelimit-Limit-Requests",
		"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Remaining-Tokens",
		"X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens", "Openai-Processing-Ms",
		"Openai-Version", "Openai-Organization",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = n
	}
	return m
}()

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
