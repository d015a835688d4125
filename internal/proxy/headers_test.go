package proxy

import (
	"net/http"
	"reflect"
	"testing"
)

func TestHopByHopHeadersStayBehind(t *testing.T) {
	in := http.Header{
		"Connection":          {"keep-alive, X-Private", "X-Other"},
		"Keep-Alive":          {"timeout=5"},
		"X-Private":           {"secret"},
		"X-Other":             {"also"},
		"Proxy-Connection":    {"keep-alive"},
		"Proxy-Authorization": {"Basic Zm9vOmJhcg=="},
		"Proxy-Authenticate":  {"Basic"},
		"Te":                  {"gzip", "trailers"},
		"Trailer":             {"X-Checksum"},
		"Transfer-Encoding":   {"chunked"},
		"Upgrade":             {"websocket"},
		"Authorization":       {"Bearer sk-1"},
		"Content-Type":        {"application/json"},
	}
	endToEnd := http.Header{
		"Authorization": {"Bearer sk-1"},
		"Content-Type":  {"application/json"},
	}

	out := http.Header{}
	fillOutHeader(out, in)
	want := endToEnd.Clone()
	want["Te"] = []string{"trailers"} // gRPC needs it end to end
	if !reflect.DeepEqual(out, want) {
		t.Errorf("request header to the upstream:\n got %v\nwant %v", out, want)
	}

	resp := http.Header{"Retry-After": {"1"}} // set before the upstream answered
	copyEndToEnd(resp, in)
	want = endToEnd.Clone()
	want["Retry-After"] = []string{"1"}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response header to the client:\n got %v\nwant %v", resp, want)
	}
}
