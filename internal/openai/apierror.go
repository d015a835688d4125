package openai

import (
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Error types aimesh puts in {"error":{"type":...}}.
const (
	// TypeInvalidRequest: the client can fix the request (4xx).
	TypeInvalidRequest = "invalid_request_error"
	// TypeUpstream: aimesh could not get an answer from a model server
	// (5xx).
	TypeUpstream = "upstream_error"
	// TypeRateLimit: the client should retry later (429).
	TypeRateLimit = "rate_limit_error"
)

// Error codes aimesh puts in {"error":{"code":...}}.
const (
	// With TypeInvalidRequest.
	CodeModelNotFound   = "model_not_found"   // 404: no route serves the model
	CodeRouteNotFound   = "route_not_found"   // 404: no route matches
	CodeRequestTooLarge = "request_too_large" // 413: body over --max-body-bytes
	CodeBadJSON         = "bad_json"          // 400: ErrBadJSON
	CodeInvalidModel    = "invalid_model"     // 400: ErrModelNotString

	// With TypeUpstream.
	CodeUpstreamConnectError = "upstream_connect_error" // 502
	CodeUpstreamTimeout      = "upstream_timeout"       // 504
	CodeNoHealthyUpstream    = "no_healthy_upstream"    // 503
	CodeEgressDenied         = "egress_denied"          // 403: mesh egressFilter DROP_ALL
	CodeBackendNotAllowed    = "backend_not_allowed"    // 403: not a backend of the caller

	// With TypeRateLimit.
	CodeOverloaded = "overloaded" // 429: a sheddable request while every endpoint is saturated
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// WriteError writes an OpenAI-shaped error response:
//
//	{"error":{"message":"...","type":"...","code":"..."}}
//
// with Content-Type application/json and the given status. An empty code
// is written as null. Call it before anything else is written to w.
func WriteError(w http.ResponseWriter, status int, typ, code, message string) {
	bp := bufPool.Get().(*[]byte)
	b := append(AppendError((*bp)[:0], typ, code, message), '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// AppendError appends the JSON error body WriteError sends (without the
// trailing newline), for callers that frame it themselves, e.g. as an SSE
// event after a stream has started.
func AppendError(dst []byte, typ, code, message string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = appendQuoted(dst, message)
	dst = append(dst, `,"type":`...)
	dst = appendQuoted(dst, typ)
	dst = append(dst, `,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendQuoted(dst, code)
	}
	return append(dst, "}}"...)
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string the way encoding/json writes it,
// except that <, > and & are not escaped: invalid UTF-8 becomes \ufffd and
// U+2028 and U+2029 are escaped.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		ch := s[i]
		if ch < utf8.RuneSelf {
			if ch >= 0x20 && ch != '"' && ch != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch ch {
			case '"', '\\':
				dst = append(dst, '\\', ch)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[ch>>4], hexDigits[ch&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
