package proxy

import (
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/proxy/h1"
)

// outbound is what one Forward builds for the upstream: the request, its
// URL and header, each HTTP/1.1 attempt's copy of them, and the reader of
// a buffered body. It comes from a pool, so that a request allocates none
// of it.
//
// Reusing it is safe because an HTTP/1.1 attempt is synchronous: when
// h1.Client.RoundTripDeadline returns, nothing holds the request or its
// body any more, and the response (whose Request field points here) is
// done with before Forward returns; a Stream keeps only the connection.
// An HTTP/2 attempt is not: the Transport may still read the request, its
// header or its body after Forward returned, so once one saw the request
// (shared) it is left to the garbage collector instead.
type outbound struct {
	req    http.Request // built once per Forward (outRequest)
	url    url.URL
	header http.Header // req.Header; cleared, not reallocated, for reuse
	xff    [1]string   // backs X-Forwarded-For
	proto  [1]string   // backs X-Forwarded-Proto

	try    http.Request // an HTTP/1.1 attempt's copy of req
	tryURL url.URL

	body    []byte       // the buffered request body (Plan.Body), or nil
	mem     h1.BytesBody // reads body in place for an HTTP/1.1 attempt
	getBody func() (io.ReadCloser, error)

	tried [8]*discovery.Endpoint // the endpoints attempted on the current target

	shared bool // an HTTP/2 attempt saw req: never reuse
}

// maxPooledHeader bounds the header map kept with a pooled outbound: a
// request with more fields leaves its map to the garbage collector.
const maxPooledHeader = 64

var outboundPool = sync.Pool{New: func() any {
	o := &outbound{header: make(http.Header, 16)}
	o.getBody = o.reopen // bound once, not per request
	return o
}}

func getOutbound() *outbound { return outboundPool.Get().(*outbound) }

// release gives o back to the pool, dropping every reference it holds.
func (o *outbound) release() {
	if o.shared {
		return
	}
	h := o.header
	if len(h) > maxPooledHeader {
		h = make(http.Header, 16)
	} else {
		clear(h)
	}
	*o = outbound{header: h, getBody: o.getBody}
	outboundPool.Put(o)
}

// memBody is the body of an HTTP/1.1 attempt: o.body read in place. The
// attempt is over before Forward returns and the gateway reuses the
// buffer, so no copy and no detaching reader (bodySource) is needed.
func (o *outbound) memBody() io.ReadCloser {
	o.mem.Reset(o.body)
	return &o.mem
}

// reopen is the GetBody of an HTTP/1.1 attempt: the client calls it,
// having closed the previous reader, to send the body again.
func (o *outbound) reopen() (io.ReadCloser, error) { return o.memBody(), nil }

// h1Request is the request of an HTTP/1.1 attempt at addr: o.req with
// its own URL and body, in o.try.
func (o *outbound) h1Request(addr string, tls bool, body io.ReadCloser) *http.Request {
	o.tryURL = o.url
	o.tryURL.Host = addr
	if tls {
		o.tryURL.Scheme = "https"
	}
	o.try = o.req
	o.try.URL = &o.tryURL
	if body != nil {
		o.try.Body = body
		if o.body != nil {
			o.try.GetBody = o.getBody
		}
	}
	return &o.try
}
