package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/openai"
	"github.com/aimesh/aimesh/internal/proxy/h1"
	"github.com/aimesh/aimesh/internal/snapshot"
)

var sseBufPool = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}

// respond streams resp to the client. Streaming responses (event streams
// and bodies of unknown length) are flushed after every read from the
// upstream. idle bounds the gap between two reads.
func (f *Forwarder) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, cancel context.CancelCauseFunc, ep *discovery.Endpoint, p *Plan, idle time.Duration, start, deadline time.Time, res *Result) {
	defer func() {
		cancel(nil)
		if ep != nil {
			f.release(res.Target, ep, p, resp.StatusCode, res.Failure)
		}
	}()
	defer resp.Body.Close()
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	announceTrailers(h, resp.Trailer)
	sse := isEventStream(resp)
	stream := resp.ContentLength < 0 || sse
	res.Code = resp.StatusCode
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	if stream {
		_ = rc.Flush()
	}
	// An HTTP/1.1 body bounds its reads itself (no timer, and the
	// perRequest deadline with it); an HTTP/2 one needs a timer for idle.
	var timer *time.Timer
	limited := h1.SetReadLimits(resp.Body, idle, deadline)
	if idle > 0 && !limited {
		timer = time.AfterFunc(idle, func() { cancel(errIdle) })
		defer timer.Stop()
	}
	pool := &bufPool
	if sse {
		// An open event stream holds its buffer while it waits for the
		// next event, often for minutes: 4 KiB (events are much smaller)
		// rather than 32 KiB per stream.
		pool = &sseBufPool
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := *bp
	first := true
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if first {
				res.TTFB = time.Since(start)
				first = false
			}
			if timer != nil {
				timer.Reset(idle)
			}
			wn, werr := w.Write(buf[:n])
			res.BytesSent += int64(wn)
			if werr != nil {
				res.Failure = "client_gone"
				return
			}
			if stream {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Failure = classify(err)
			switch {
			case r.Context().Err() != nil:
				res.Failure = "client_gone"
			case timer != nil && !timer.Stop():
				res.Failure = "idle_timeout"
			case limited && errors.Is(err, os.ErrDeadlineExceeded):
				res.Failure = deadlineFailure(deadline)
			}
			f.Log.Debug("upstream body failed mid-response; aborting the client stream", "upstream", res.Upstream, "err", err)
			// Headers are out: cut the connection so the client sees the
			// failure instead of a short, well-formed response.
			panic(http.ErrAbortHandler)
		}
	}
	for k, v := range resp.Trailer {
		h[k] = v
	}
}

// deadlineFailure names a read that hit its connection deadline: the
// perRequest timeout when deadline has passed, else the idle timeout.
func deadlineFailure(deadline time.Time) string {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return "timeout"
	}
	return "idle_timeout"
}

// announceTrailers names the upstream's trailers in a Trailer header.
func announceTrailers(h, trailer http.Header) {
	if len(trailer) == 0 {
		return
	}
	keys := make([]string, 0, len(trailer))
	for k := range trailer {
		keys = append(keys, k)
	}
	h["Trailer"] = []string{strings.Join(keys, ", ")}
}

// isEventStream reports whether resp is a server-sent event stream.
func isEventStream(resp *http.Response) bool {
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
}

// streaming reports whether resp is flushed to the client as it arrives:
// an event stream or a body of unknown length.
func streaming(resp *http.Response) bool { return resp.ContentLength < 0 || isEventStream(resp) }

// fail writes an OpenAI-shaped error, or a gRPC status to a gRPC call.
func (f *Forwarder) fail(w http.ResponseWriter, r *http.Request, res *Result, status int, failure, code, msg string) {
	res.Code, res.Failure = status, failure
	openai.WriteErrorFor(w, r, status, "upstream_error", code, msg)
}

// classify names an upstream error.
func classify(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, errNoTarget):
		return "no_endpoint"
	case errors.Is(err, errPerTry), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errIdle):
		return "idle_timeout"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "connect"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "reset"
	case strings.Contains(err.Error(), "REFUSED_STREAM"), strings.Contains(err.Error(), "stream error"):
		return "reset"
	}
	return "reset"
}

// retryStatus reports whether an upstream answer is a retry event: an
// HTTP status in the policy, or a gRPC status in the response headers (a
// trailers-only response).
func retryStatus(p *snapshot.RetryPolicy, resp *http.Response) bool {
	if p.RetryStatus(resp.StatusCode) {
		return true
	}
	if p.GRPC != 0 {
		if s := resp.Header.Get("Grpc-Status"); s != "" {
			code := 0
			for _, c := range s {
				if c < '0' || c > '9' {
					return false
				}
				code = code*10 + int(c-'0')
			}
			return p.RetryGRPC(code)
		}
	}
	return false
}

// retryError reports whether a failed attempt may be retried.
func retryError(p *snapshot.RetryPolicy, failure string) bool {
	switch failure {
	case "connect":
		return p.ConnectionError
	case "reset":
		return p.StreamError
	case "timeout":
		return p.PerTry > 0 // a per-try timeout; the perRequest one ends the request
	}
	return false
}

// remoteIP is the host part of a RemoteAddr.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

func joinComma(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return strings.Join(v, ", ")
}
