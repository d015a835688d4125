package proxy

import (
	"net/http"
	"strings"
)

// isHop reports whether a canonical header name is hop-by-hop (RFC 9110
// 7.6.1): not forwarded. "Te: trailers" is forwarded again by
// fillOutHeader because gRPC needs it.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// fillOutHeader copies h into out, an empty map, without hop-by-hop
// headers.
func fillOutHeader(out, h http.Header) {
	copyEndToEnd(out, h)
	if te := h["Te"]; len(te) > 0 {
		for _, v := range te {
			if strings.EqualFold(strings.TrimSpace(v), "trailers") {
				out["Te"] = []string{"trailers"}
			}
		}
	}
}

// copyEndToEnd copies src's fields into dst (a request's to the upstream,
// an upstream response's to the client), leaving out the hop-by-hop
// ones and those src's Connection field names. It skips them rather than
// deleting them afterwards: a request costs map deletes only when it
// names fields in Connection.
func copyEndToEnd(dst, src http.Header) {
	for k, v := range src {
		if !isHop(k) {
			dst[k] = v
		}
	}
	for _, f := range src["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				dst.Del(name)
			}
		}
	}
}
