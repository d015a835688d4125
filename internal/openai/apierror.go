package openai

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/aimesh/aimesh/internal/grpcstatus"
	"github.com/aimesh/aimesh/internal/jsonstr"
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

// WriteErrorFor answers r with WriteError, or, when r is a gRPC call,
// with the gRPC status for the same HTTP status (see grpcstatus): a gRPC
// client reads grpc-status, not a JSON body.
func WriteErrorFor(w http.ResponseWriter, r *http.Request, status int, typ, code, message string) {
	if r != nil && grpcstatus.IsGRPC(r) {
		grpcstatus.Write(w, status, message)
		return
	}
	WriteError(w, status, typ, code, message)
}

// AppendError appends the JSON error body WriteError sends (without the
// trailing newline), for callers that frame it themselves, e.g. as an SSE
// event after a stream has started.
func AppendError(dst []byte, typ, code, message string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = jsonstr.AppendQuoted(dst, message)
	dst = append(dst, `,"type":`...)
	dst = jsonstr.AppendQuoted(dst, typ)
	dst = append(dst, `,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = jsonstr.AppendQuoted(dst, code)
	}
	return append(dst, "}}"...)
}
