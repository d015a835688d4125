package grpcstatus

import (
	"net/http"
	"strconv"
	"strings"
)

// gRPC status codes (google.golang.org/grpc/codes) that aimesh answers.
const (
	Unknown           = 2
	InvalidArgument   = 3
	DeadlineExceeded  = 4
	PermissionDenied  = 7
	ResourceExhausted = 8
	Unimplemented     = 12
	Internal          = 13
	Unavailable       = 14
	Unauthenticated   = 16
)

// IsGRPC reports whether r is a gRPC call: its Content-Type is
// application/grpc, alone or with a +suffix or parameters.
func IsGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/grpc") {
		return false
	}
	rest := ct[len("application/grpc"):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// Code is the gRPC status for an HTTP status aimesh would have answered.
// It follows the gRPC project's HTTP-to-gRPC mapping, with the codes that
// say more where aimesh knows the cause: 504 is aimesh's timeout
// (DEADLINE_EXCEEDED), 413 a body over the limit and 400 a request it
// could not read.
func Code(status int) int {
	switch status {
	case http.StatusBadRequest:
		return InvalidArgument
	case http.StatusUnauthorized:
		return Unauthenticated
	case http.StatusForbidden:
		return PermissionDenied
	case http.StatusNotFound:
		return Unimplemented
	case http.StatusRequestEntityTooLarge:
		return ResourceExhausted
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return Unavailable
	case http.StatusGatewayTimeout:
		return DeadlineExceeded
	}
	if status >= 500 {
		return Internal
	}
	return Unknown
}

// Write answers a gRPC call with the status for the HTTP status and msg,
// Trailers-Only: HTTP 200 and one header block that ends the stream. Call
// it before anything else is written to w, and write nothing after it.
func Write(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(Code(status)))
	h.Set("Grpc-Message", encodeMessage(msg))
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
}

// encodeMessage percent-encodes msg as grpc-message requires: bytes
// outside printable ASCII, and '%' itself.
func encodeMessage(msg string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			n++
		}
	}
	if n == 0 {
		return msg
	}
	b := make([]byte, 0, len(msg)+2*n)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < ' ' || c > '~' || c == '%' {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}
