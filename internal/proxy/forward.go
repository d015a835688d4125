package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/proxy/h1"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/internal/tlsconfig"
)

// Plan is what the gateway decided for one request.
type Plan struct {
	// Route is the matched route; nil when a service's provider is a node.
	Route *snapshot.Route
	// Target is the weighted target drawn for this request.
	Target *snapshot.Target
	// Egress, when set, is the host:port of a destination outside the mesh;
	// Target is then nil.
	Egress string
	// Body is the buffered request body; nil means stream r.Body as it
	// arrives, keeping up to Forwarder.MaxReplay bytes of it so that
	// another attempt can send it again (see replayBody).
	Body []byte
	// Host is the Host header to send.
	Host string
	// Path (escaped, as sent on the wire) and RawQuery to send, after
	// gateway rewrites.
	Path, RawQuery string
	// Pick is what endpoint picking knows of the request: prompt,
	// estimated tokens (counted in flight per endpoint), criticality.
	Pick picker.Request
	// ClientTLS is the caller's client policy: TLS to the target's
	// endpoints when it covers the target port (nil: plaintext).
	ClientTLS *v1.ClientPolicyTLS
	// Resume, when set, lets a streaming response leave net/http: the
	// Forwarder relays it in a Stream (see Forwarder.Streams) and then
	// gives the client connection, with any bytes read ahead of it, back
	// to Resume to serve its next request. It reports whether it took the
	// connection.
	Resume func(c net.Conn, ahead []byte) bool
	// Draining asks that the client connection close after the response.
	Draining bool
}

// Result is what happened, for metrics and the access log.
type Result struct {
	Code      int
	Target    *snapshot.Target
	Upstream  string
	Retries   int
	Fallback  bool
	TTFB      time.Duration
	BytesSent int64
	// BodyRead is how many bytes of a streamed request body were read
	// (for the access log when the request had no Content-Length).
	BodyRead int64
	// Failure is the upstream failure reason ("" when none): connect,
	// timeout, idle_timeout, reset, no_endpoint, client_gone,
	// drain_timeout.
	Failure string
	// Stream, when set, is the response still being relayed after Forward
	// returned: the caller must Start it, and gets the final Result then.
	Stream *Stream
}

// Picker chooses an endpoint of t, avoiding those already tried when it
// can. It returns nil when t has no endpoint.
// tried is the Forwarder's (reused): it must not be kept past the call.
type Picker func(t *snapshot.Target, tried []*discovery.Endpoint) *discovery.Endpoint

// Forwarder sends requests upstream.
type Forwarder struct {
	Pools *Pools
	Pick  Picker
	// Balancer, when set, picks instead of Pick (see Balancer).
	Balancer Balancer
	// MaxReplay bounds the bytes of a streamed request body (Plan.Body
	// nil) kept so that another attempt can send it again; past it the
	// body is still forwarded, but a failure after the first byte was
	// sent is final. 0 keeps nothing: another attempt only while no byte
	// was sent.
	MaxReplay int64
	// ClientTLS turns a client policy into a tls.Config (the gateway
	// builds and caches them); nil means upstreams are plaintext.
	ClientTLS func(*v1.ClientPolicyTLS) *tls.Config
	// Streams, when set, tracks the streaming responses relayed outside
	// net/http (see Plan.Resume); nil keeps every response in net/http.
	Streams *Streams
	Log     *slog.Logger
}

// upstreamTLS is the TLS config for an attempt at t, or nil.
func (f *Forwarder) upstreamTLS(p *Plan, t *snapshot.Target) *tls.Config {
	if p.ClientTLS == nil || t == nil || f.ClientTLS == nil || !tlsconfig.AppliesTo(p.ClientTLS, t.Port) {
		return nil
	}
	return f.ClientTLS(p.ClientTLS)
}

// RoundRobin is the default Picker: the node's round-robin cursor, skipping
// endpoints already tried while any other is left.
func RoundRobin(t *snapshot.Target, tried []*discovery.Endpoint) *discovery.Endpoint {
	eps := t.Endpoints.Endpoints()
	if len(eps) == 0 {
		return nil
	}
	start := int(t.Node.Next() % uint64(len(eps)))
	for i := range eps {
		e := eps[(start+i)%len(eps)]
		if !contains(tried, e) {
			return e
		}
	}
	return eps[start]
}

func contains(s []*discovery.Endpoint, e *discovery.Endpoint) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}

var (
	errPerTry   = errors.New("per-try timeout")
	errIdle     = errors.New("idle timeout")
	errNoTarget = errors.New("no endpoint")
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Forward runs the plan: attempts with retries on the weighted target, then
// the route's fallback targets, and writes the response or an error.
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, p *Plan, res *Result) {
	start := time.Now()
	perReq, idle := timeouts(p)
	var deadline time.Time
	if perReq > 0 {
		deadline = start.Add(perReq)
	}
	rc := reqCtx{base: r.Context(), deadline: deadline}
	defer rc.cancel()
	ob := getOutbound()
	defer ob.release() // deferred first, so it runs last: after the response is done with
	var (
		body   *bodySource // for HTTP/2 attempts at a buffered body, made at the first
		stream *replayBody
	)
	defer func() {
		// Once Forward returns, the gateway reuses p.Body for another
		// request, but an HTTP/2 Transport may still be writing an
		// attempt's body (the upstream answered before reading it all):
		// detach every reader first.
		if body != nil {
			body.release()
		}
	}()
	switch {
	case p.Body != nil:
		ob.body = p.Body
	case r.Body != nil && r.Body != http.NoBody:
		keep := f.MaxReplay
		if p.Route == nil || (p.Route.Retry.MaxRetries == 0 && len(p.Route.Fallback) == 0) {
			keep = 0 // one attempt only: no copy
		}
		stream = newReplayBody(r.Body, keep)
		defer func() {
			res.BodyRead = stream.bytesRead()
			stream.release()
		}()
	}
	// canResend reports whether another attempt can send the request body.
	canResend := func() bool { return stream == nil || stream.canReplay() }
	out := f.outRequest(r, p, ob)
	var retry snapshot.RetryPolicy
	if p.Route != nil {
		retry = p.Route.Retry
	}
	targets := [1 + 10]*snapshot.Target{p.Target}
	n := 1
	if p.Route != nil {
		n += copy(targets[1:], p.Route.Fallback)
	}
	var (
		lastErr  error
		lastFail string
	)
targets:
	for ti := 0; ti < n; ti++ {
		t := targets[ti]
		if ti > 0 {
			res.Fallback = true
		}
		tried := ob.tried[:] // in ob: passed to the picker, it would escape
		ntried := 0
		for attempt := 0; attempt <= retry.MaxRetries; attempt++ {
			if attempt > 0 {
				res.Retries++
			}
			addr, ep := p.Egress, (*discovery.Endpoint)(nil)
			if t != nil {
				var perr error
				if ep, perr = f.pick(t, p, tried[:ntried]); perr != nil {
					lastErr, lastFail = perr, "shed"
					break
				}
				if ep == nil {
					lastErr, lastFail = errNoTarget, "no_endpoint"
					break
				}
				if ntried < len(tried) {
					tried[ntried] = ep
					ntried++
				}
				addr = ep.Addr
			}
			res.Target, res.Upstream = t, addr
			tcfg := f.upstreamTLS(p, t)
			rt := f.transport(t, tcfg)
			c, isH1 := rt.(*h1.Client)
			var reqBody io.ReadCloser
			switch {
			case p.Body != nil && isH1:
				reqBody = ob.memBody()
			case p.Body != nil:
				if body == nil {
					body = newBodySource(p.Body)
				}
				reqBody = body.open()
			case stream != nil:
				reqBody = stream.next()
			}
			if ep != nil {
				f.acquire(ep, p)
			}
			var (
				resp          *http.Response
				cancelAttempt context.CancelCauseFunc
				err           error
			)
			if isH1 {
				resp, cancelAttempt, err = attemptH1(c, &rc, ob.h1Request(addr, tcfg != nil, reqBody), retry.PerTry)
			} else {
				ob.shared = true // the Transport may hold the request past Forward
				resp, cancelAttempt, err = attemptH2(rt, &rc, out, reqBody, body, addr, retry.PerTry, tcfg != nil)
			}
			if err == nil {
				// A retry event is retried while retries are left; any other
				// 5xx (or a retry event with none left) moves on to the next
				// fallback target, if there is one. Either needs the request
				// body again; without it the client gets this answer.
				retryable := retryStatus(&retry, resp) && attempt < retry.MaxRetries
				toFallback := !retryable && resp.StatusCode >= 500 && ti < n-1
				if (retryable || toFallback) && !canResend() {
					retryable, toFallback = false, false
				}
				if retryable || toFallback {
					f.discard(resp, cancelAttempt, t, ep, p)
					lastErr, lastFail = nil, "status_"+strconv.Itoa(resp.StatusCode)
					recycle(resp, isH1)
					if toFallback {
						break
					}
					continue
				}
				if f.streamable(r, resp, p, streaming(resp)) && (stream == nil || stream.sent()) {
					if stream != nil {
						res.BodyRead = stream.bytesRead()
					}
					if f.handOff(w, r, resp, cancelAttempt, ep, p, idle, start, deadline, res) {
						recycle(resp, isH1)
						return
					}
				}
				f.respond(w, r, resp, cancelAttempt, ep, p, idle, start, deadline, res)
				recycle(resp, isH1)
				return
			}
			cancelAttempt(nil)
			lastErr, lastFail = err, classify(err)
			if ep != nil {
				if r.Context().Err() != nil {
					f.release(t, ep, p, 0, "client_gone")
				} else {
					f.release(t, ep, p, 0, lastFail)
				}
			}
			if r.Context().Err() != nil {
				res.Code, res.Failure = 499, "client_gone"
				return
			}
			if rc.expired() {
				f.fail(w, r, res, http.StatusGatewayTimeout, "timeout", "upstream_timeout",
					"the upstream did not answer within the route's perRequest timeout ("+perReq.String()+")")
				return
			}
			if !canResend() {
				break targets // the body is spent: neither a retry nor a fallback can send it
			}
			if !retryError(&retry, lastFail) {
				break
			}
		}
	}
	switch lastFail {
	case "shed":
		f.shed(w, r, res, p)
	case "no_endpoint":
		f.fail(w, r, res, http.StatusServiceUnavailable, lastFail, "no_healthy_upstream", "no endpoint available for "+targetName(p))
	case "timeout":
		f.fail(w, r, res, http.StatusGatewayTimeout, lastFail, "upstream_timeout", "the upstream did not answer in time: "+errString(lastErr))
	case "connect":
		f.fail(w, r, res, http.StatusBadGateway, lastFail, "upstream_connect_error", "could not connect to the upstream: "+errString(lastErr))
	default:
		if lastErr == nil { // retried statuses ran out with fallbacks: the last answer was a 5xx
			f.fail(w, r, res, http.StatusBadGateway, lastFail, "upstream_error", "every target failed; last answer "+lastFail)
			return
		}
		f.fail(w, r, res, http.StatusBadGateway, lastFail, "upstream_error", "upstream failed: "+errString(lastErr))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func targetName(p *Plan) string {
	if p.Target != nil {
		return "VirtualNode " + p.Target.Node.Name
	}
	return p.Egress
}

// timeouts returns the effective perRequest and idle timeouts.
func timeouts(p *Plan) (perReq, idle time.Duration) {
	if p.Route != nil {
		perReq, idle = p.Route.PerRequest, p.Route.Idle
	} else {
		perReq, idle = snapshot.DefaultPerRequest, snapshot.DefaultIdle
	}
	if p.Target != nil {
		perReq = snapshot.Cap(perReq, p.Target.PerRequestCap)
		idle = snapshot.Cap(idle, p.Target.IdleCap)
	}
	return perReq, idle
}

// reqCtx is the request's context bounded by its perRequest deadline,
// made only when an attempt needs one (an HTTP/2 upstream): HTTP/1.1
// attempts are bounded by their connection's I/O deadlines instead, which
// cost no timer and no context per request.
type reqCtx struct {
	base     context.Context
	deadline time.Time
	ctx      context.Context
	stop     context.CancelFunc
}

func (c *reqCtx) get() context.Context {
	if c.ctx == nil {
		c.ctx = c.base
		if !c.deadline.IsZero() {
			c.ctx, c.stop = context.WithDeadline(c.base, c.deadline)
		}
	}
	return c.ctx
}

func (c *reqCtx) cancel() {
	if c.stop != nil {
		c.stop()
	}
}

// expired reports whether the perRequest deadline has passed.
func (c *reqCtx) expired() bool {
	return !c.deadline.IsZero() && !time.Now().Before(c.deadline)
}

// outRequest builds the upstream request once, in ob; attempts set the
// URL's Host and the body.
func (f *Forwarder) outRequest(r *http.Request, p *Plan, ob *outbound) *http.Request {
	out := &ob.req
	*out = *r // a shallow copy, context included
	ob.url = url.URL{Scheme: "http", Path: p.Path, RawQuery: p.RawQuery}
	if path, err := url.PathUnescape(p.Path); err == nil && path != p.Path {
		ob.url.Path, ob.url.RawPath = path, p.Path // sent as p.Path, escapes kept
	}
	out.URL = &ob.url
	out.Host = p.Host
	out.RequestURI = ""
	out.Close = false
	out.Header = ob.header
	fillOutHeader(out.Header, r.Header)
	if ip := remoteIP(r.RemoteAddr); ip != "" {
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			ob.xff[0] = joinComma(prior) + ", " + ip
		} else {
			ob.xff[0] = ip
		}
		out.Header["X-Forwarded-For"] = ob.xff[:]
	}
	if _, ok := out.Header["X-Forwarded-Proto"]; !ok {
		if r.TLS != nil {
			ob.proto[0] = "https"
		} else {
			ob.proto[0] = "http"
		}
		out.Header["X-Forwarded-Proto"] = ob.proto[:]
	}
	if p.Body != nil {
		out.ContentLength = int64(len(p.Body)) // each attempt sets Body (and GetBody)
	}
	return out
}

// bodySource hands out readers of a buffered request body, one per
// HTTP/2 attempt, and detaches them all at once: after release a read
// returns an error instead of touching the buffer, and no read is in
// progress. The readers share one mutex, held only while copying a
// chunk, so release never waits for an upstream that stopped reading.
// (They have no WriteTo on purpose: it would hold the lock for a whole
// blocking write.) HTTP/1.1 attempts need none of this (outbound.memBody).
//
// A body of up to smallBody bytes is copied instead: attempts read the
// copy through a bytes.Reader, and the copy is nobody else's to reuse.
type bodySource struct {
	mu       sync.Mutex
	b        []byte
	own      []byte // the private copy of a small body
	released bool
}

// smallBody is the largest body bodySource copies.
const smallBody = 3 << 10

func newBodySource(b []byte) *bodySource {
	if len(b) <= smallBody {
		return &bodySource{own: bytes.Clone(b)}
	}
	return &bodySource{b: b}
}

var errBodyReleased = errors.New("request body released: the request is over")

func (s *bodySource) open() io.ReadCloser {
	if s.own != nil {
		return io.NopCloser(bytes.NewReader(s.own))
	}
	return &bodyReader{s: s}
}

func (s *bodySource) release() {
	s.mu.Lock()
	s.released, s.b = true, nil
	s.mu.Unlock()
}

type bodyReader struct {
	s   *bodySource
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.released {
		return 0, errBodyReleased
	}
	if r.off >= len(r.s.b) {
		return 0, io.EOF
	}
	n := copy(p, r.s.b[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }

// transport is the shared client for an attempt at t (nil: an egress
// destination), over TLS with tcfg when it is not nil.
func (f *Forwarder) transport(t *snapshot.Target, tcfg *tls.Config) http.RoundTripper {
	h2c, maxConns := false, 0
	if t != nil {
		h2c = t.Protocol == v1.ProtocolHTTP2 || t.Protocol == v1.ProtocolGRPC
		maxConns = t.MaxConns
	}
	return f.Pools.Transport(h2c, maxConns, tcfg)
}

// attemptH2 sends the request to addr through rt, an HTTP/2 Transport,
// with body (source, when not nil, gives it again for GetBody). On
// success the caller owns resp and must call cancel when done with its
// body. The request is a copy of out: the Transport may hold it after
// the request ended.
func attemptH2(rt http.RoundTripper, rc *reqCtx, out *http.Request, body io.ReadCloser, source *bodySource, addr string, perTry time.Duration, tls bool) (*http.Response, context.CancelCauseFunc, error) {
	u := *out.URL
	u.Host = addr
	if tls {
		u.Scheme = "https"
	}
	actx, cancel := context.WithCancelCause(rc.get())
	var timer *time.Timer
	if perTry > 0 {
		timer = time.AfterFunc(perTry, func() { cancel(errPerTry) })
	}
	req := out.WithContext(actx)
	req.URL = &u
	if body != nil {
		req.Body = body
	}
	if source != nil {
		req.GetBody = func() (io.ReadCloser, error) { return source.open(), nil }
	}
	resp, err := rt.RoundTrip(req)
	if timer != nil && !timer.Stop() && err == nil {
		// The per-try timer fired as the headers arrived: honour it.
		resp.Body.Close()
		err = errPerTry
	}
	if err != nil {
		if c := context.Cause(actx); c == errPerTry {
			err = errPerTry
		}
		return nil, cancel, err
	}
	return resp, cancel, nil
}

// noCancel is the cancel of an attempt that made no context.
func noCancel(error) {}

// attemptH1 is an attempt on an HTTP/1.1 upstream with req (see
// outbound.h1Request): the per-try and perRequest timeouts are one
// deadline on the connection until the response head arrived, and the
// request keeps the client's context (a client that leaves still
// cancels it).
func attemptH1(c *h1.Client, rc *reqCtx, req *http.Request, perTry time.Duration) (*http.Response, context.CancelCauseFunc, error) {
	d := rc.deadline
	if perTry > 0 {
		if pt := time.Now().Add(perTry); d.IsZero() || pt.Before(d) {
			d = pt
		}
	}
	resp, err := c.RoundTripDeadline(req, d)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if rc.expired() {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		} else {
			err = errPerTry
		}
	}
	return resp, noCancel, err
}

// recycle gives the header map of an HTTP/1.1 response back to h1 once
// the response is over: its fields were copied to the client's header
// (values shared, which Recycle leaves alone) and nothing reads it again.
func recycle(resp *http.Response, isH1 bool) {
	if isH1 {
		h1.Recycle(resp)
	}
}

func (f *Forwarder) discard(resp *http.Response, cancel context.CancelCauseFunc, t *snapshot.Target, ep *discovery.Endpoint, p *Plan) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	cancel(nil)
	if ep != nil {
		f.release(t, ep, p, resp.StatusCode, "")
	}
}
