package grpcstatus

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":                true,
		"application/grpc+proto":          true,
		"application/grpc;charset=utf-8":  true,
		"application/grpc-web":            false, // its status goes in the body
		"application/grpc-web-text+proto": false,
		"application/json":                false,
		"":                                false,
	} {
		r := httptest.NewRequest("POST", "/pkg.S/M", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if got := IsGRPC(r); got != want {
			t.Errorf("IsGRPC(Content-Type %q) = %v, want %v", ct, got, want)
		}
	}
}

func TestCode(t *testing.T) {
	for status, want := range map[int]int{
		400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: Unimplemented,
		413: ResourceExhausted, 429: Unavailable, 502: Unavailable, 503: Unavailable,
		504: DeadlineExceeded, 500: Internal, 418: Unknown,
	} {
		if got := Code(status); got != want {
			t.Errorf("Code(%d) = %d, want %d", status, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Length", "99") // set before by someone else: must go
	msg := "no route for pkg.S/M: 100% café\nnext"
	Write(w, http.StatusNotFound, msg)
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("status %d with %d body bytes, want 200 and none (Trailers-Only)", w.Code, w.Body.Len())
	}
	h := w.Header()
	if h.Get("Content-Type") != "application/grpc" || h.Get("Grpc-Status") != "12" || h.Get("Content-Length") != "" {
		t.Fatalf("headers %v", h)
	}
	enc := h.Get("Grpc-Message")
	for i := 0; i < len(enc); i++ {
		if c := enc[i]; c < ' ' || c > '~' {
			t.Fatalf("grpc-message %q has byte %#x, which must be percent-encoded", enc, c)
		}
	}
	// A client decodes it as percent-encoding (grpc-go uses the same rule).
	if got, err := url.PathUnescape(enc); err != nil || got != msg {
		t.Fatalf("grpc-message %q decodes to %q (%v), want %q", enc, got, err, msg)
	}
}
