package telemetry

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

// Envoy response flags for Entry.Flags (comma-separated when several apply,
// e.g. "UF,URX"), so dashboards built for App Mesh keep working.
const (
	FlagNoHealthyUpstream         = "UH"  // no healthy endpoint
	FlagUpstreamConnectionFailure = "UF"  // could not connect
	FlagUpstreamOverflow          = "UO"  // circuit breaker / pool limit
	FlagNoRouteFound              = "NR"  // no route matched
	FlagUpstreamRequestTimeout    = "UT"  // upstream timeout
	FlagLocalReset                = "LR"  // aimesh reset the stream
	FlagUpstreamRemoteReset       = "UR"  // upstream reset the stream
	FlagUpstreamConnTermination   = "UC"  // upstream closed the connection
	FlagDownstreamConnTermination = "DC"  // client went away
	FlagRetryLimitExceeded        = "URX" // retries exhausted
	FlagRateLimited               = "RL"  // rejected by a rate limit
	FlagStreamIdleTimeout         = "SI"  // stream idle timeout
	FlagDownstreamProtocolError   = "DPE" // malformed client request
	FlagOverloadManager           = "OM"  // shed under load
)

// Entry is one request as the access log sees it. The gateway fills one per
// request (it may pool them: the logger keeps no reference after Log
// returns). Zero values print as Envoy prints missing values: "-" in text,
// null in JSON (numbers print 0 unless noted).
type Entry struct {
	Start        time.Time // %START_TIME%
	Method       string    // %REQ(:METHOD)%
	Scheme       string    // %REQ(:SCHEME)%
	Authority    string    // %REQ(:AUTHORITY)% (the Host header)
	Path         string    // %REQ(:PATH)%: path and query as received
	OriginalPath string    // %REQ(X-ENVOY-ORIGINAL-PATH)%: the path before a gateway rewrite
	Protocol     string    // %PROTOCOL%: HTTP/1.1, HTTP/2
	ServerName   string    // %REQUESTED_SERVER_NAME%: TLS SNI

	RequestHeader  http.Header // %REQ(NAME)%: first value of the header
	ResponseHeader http.Header // %RESP(NAME)%

	Code          int           // %RESPONSE_CODE%: 0 when no response was sent
	Flags         string        // %RESPONSE_FLAGS%, see the Flag* constants
	BytesReceived int64         // %BYTES_RECEIVED%: request body bytes
	BytesSent     int64         // %BYTES_SENT%: response body bytes
	Duration      time.Duration // %DURATION%: start to last response byte, in ms
	TTFB          time.Duration // %RESPONSE_DURATION%: start to first response byte (TTFT); 0 = none

	UpstreamHost   string // %UPSTREAM_HOST%: the endpoint, host:port
	VirtualNode    string // %UPSTREAM_CLUSTER%
	VirtualService string // %AIMESH_VIRTUAL_SERVICE%
	Route          string // %ROUTE_NAME%
	Model          string // %AIMESH_MODEL%: the request's "model"
	RemoteAddr     string // %DOWNSTREAM_REMOTE_ADDRESS%: client ip:port
	LocalAddr      string // %DOWNSTREAM_LOCAL_ADDRESS%: listener ip:port
	FailureReason  string // %UPSTREAM_TRANSPORT_FAILURE_REASON%

	Retries          int   // %AIMESH_RETRIES%
	PromptTokens     int64 // %AIMESH_PROMPT_TOKENS%: 0 = unknown
	CompletionTokens int64 // %AIMESH_COMPLETION_TOKENS%: 0 = unknown
}

// Formatter renders entries in one compiled format. It is immutable and
// safe for concurrent use.
type Formatter struct {
	c *compiled
}

// NewFormatter compiles f; nil means DefaultTextFormat.
func NewFormatter(f *v1alpha1.LoggingFormat) (*Formatter, error) {
	c, err := compile(f)
	if err != nil {
		return nil, err
	}
	return &Formatter{c: c}, nil
}

// Append appends e's line, newline included, to b.
func (f *Formatter) Append(b []byte, e *Entry) []byte {
	if f.c.json != nil {
		var tmp []byte
		return appendJSON(b, &tmp, f.c.json, e)
	}
	return appendText(b, f.c.text, e)
}

func (f *Formatter) appendPooled(lb *logBuf, e *Entry) {
	if f.c.json != nil {
		lb.b = appendJSON(lb.b[:0], &lb.tmp, f.c.json, e)
		return
	}
	lb.b = appendText(lb.b[:0], f.c.text, e)
}

type logBuf struct{ b, tmp []byte }

// maxPooledLine bounds the buffers kept for reuse, so one huge line (long
// header values) does not pin memory.
const maxPooledLine = 64 << 10

var logBufs = sync.Pool{New: func() any {
	return &logBuf{b: make([]byte, 0, 1024), tmp: make([]byte, 0, 256)}
}}

// AccessLogger writes one line per request to an App Mesh
// logging.accessLog.file path.
type AccessLogger struct {
	format *Formatter
	path   string
	files  *LogFiles
	file   *sharedFile
	once   sync.Once
}

// NewAccessLogger compiles spec's format (an error names a bad operator)
// and opens spec.Path through files, sharing the writer with every other
// logger of files on the same path. A nil files gives the logger a
// private set (handy in tests and tools; the gateway passes its own).
func NewAccessLogger(spec *v1alpha1.FileAccessLog, files *LogFiles) (*AccessLogger, error) {
	if spec == nil || spec.Path == "" {
		return nil, errors.New("access log: path is required")
	}
	f, err := NewFormatter(spec.Format)
	if err != nil {
		return nil, fmt.Errorf("access log %s: %w", spec.Path, err)
	}
	if files == nil {
		files = NewLogFiles(nil, nil)
	}
	file, err := files.acquire(spec.Path)
	if err != nil {
		return nil, err
	}
	return &AccessLogger{format: f, path: spec.Path, files: files, file: file}, nil
}

// Path is the file the logger writes to.
func (l *AccessLogger) Path() string { return l.path }

// Log formats e and hands the line to the file, which buffers it or writes
// it with a single Write (see Buffering); lines are never split between
// writes. It is safe for concurrent use and allocates nothing in the
// steady state. Lines logged after Close are dropped.
func (l *AccessLogger) Log(e *Entry) {
	lb := logBufs.Get().(*logBuf)
	l.format.appendPooled(lb, e)
	l.file.write(lb.b)
	if cap(lb.b) <= maxPooledLine && cap(lb.tmp) <= maxPooledLine {
		logBufs.Put(lb)
	}
}

// Close releases the logger's file, closing it if no other logger uses it.
// Calling Close more than once is harmless.
func (l *AccessLogger) Close() error {
	var err error
	l.once.Do(func() { err = l.files.release(l.file) })
	return err
}
