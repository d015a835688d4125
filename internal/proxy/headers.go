package proxy

import (
	"net/http"
	"strings"
)

// hopHeaders are removed when forwarding (RFC 9110 7.6.1). "Te: trailers"
// is kept because gRPC needs it.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// fillOutHeader copies h into out, an empty map, without hop-by-hop
// headers.
func fillOutHeader(out, h http.Header) {
	for k, v := range h {
		out[k] = v
	}
	removeHop(out)
	if te := h["Te"]; len(te) > 0 {
		for _, v := range te {
			if strings.EqualFold(strings.TrimSpace(v), "trailers") {
				out["Te"] = []string{"trailers"}
			}
		}
	}
}

func removeHop(h http.Header) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// copyResponseHeader copies an upstream response's headers to w.
func copyResponseHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
	removeHop(dst)
}
