package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aimesh/aimesh/internal/openai"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/route"
)

// errTooLarge is returned when a body exceeds MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// reqState is the per-request working set; it is pooled.
type reqState struct {
	start   time.Time
	r       *http.Request
	maxBody int64
	req     route.Request
	plan    proxy.Plan
	res     proxy.Result

	bodyRead bool
	body     *bytes.Buffer
	bodyErr  error
	limit    io.LimitedReader // bounds the body read; reused

	inspected bool
	model     string
	modelErr  error
	info      openai.Info // the whole inspection (prompt, max tokens)

	service, routeName string
}

var statePool = sync.Pool{New: func() any { return &reqState{body: new(bytes.Buffer)} }}

// requestStarter is a ResponseWriter that knows when its request began
// (the fast lane's): its start saves a clock read per request.
type requestStarter interface{ RequestStart() time.Time }

func getState(w http.ResponseWriter, r *http.Request, maxBody int64) *reqState {
	s := statePool.Get().(*reqState)
	if rs, ok := w.(requestStarter); ok {
		s.start = rs.RequestStart()
	} else {
		s.start = time.Now()
	}
	s.r = r
	s.maxBody = maxBody
	return s
}

func putState(s *reqState) {
	if s.body.Cap() > 1<<20 {
		s.body = new(bytes.Buffer) // do not pin large buffers in the pool
	} else {
		s.body.Reset()
	}
	body := s.body
	pick := s.plan.Pick // keep its scratch buffers
	pick.Reset()
	*s = reqState{body: body}
	s.plan.Pick = pick
	s.req.Reset()
	statePool.Put(s)
}

// readBody reads the whole request body once, bounded by maxBody.
func (s *reqState) readBody() error {
	if s.bodyRead {
		return s.bodyErr
	}
	s.bodyRead = true
	r := s.r
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > s.maxBody {
		s.bodyErr = errTooLarge
		return s.bodyErr
	}
	if r.ContentLength > 0 {
		s.body.Grow(int(r.ContentLength))
	}
	// The limiter lives in the pooled state: io.LimitReader would
	// allocate one per request.
	s.limit = io.LimitedReader{R: r.Body, N: s.maxBody + 1}
	n, err := s.body.ReadFrom(&s.limit)
	s.limit.R = nil
	switch {
	case err != nil:
		s.bodyErr = err
	case n > s.maxBody:
		s.bodyErr = errTooLarge
	}
	return s.bodyErr
}

// Model implements route.ModelSource: the body's "model", read and
// inspected at most once.
func (s *reqState) Model() (string, error) {
	if s.inspected {
		return s.model, s.modelErr
	}
	s.inspected = true
	if err := s.readBody(); err != nil {
		s.modelErr = err
		return "", err
	}
	if s.body.Len() == 0 {
		// No body (a GET, say) has no model: model routes do not match
		// and later routes get their turn, as route.Request documents.
		return "", nil
	}
	info, err := openai.Inspect(s.body.Bytes())
	s.model, s.modelErr, s.info = info.Model, err, info
	return s.model, s.modelErr
}

// bodyForPlan returns the body to forward: the buffered one when it was
// read, otherwise nil (stream it).
func (s *reqState) bodyForPlan() []byte {
	if !s.bodyRead || s.bodyErr != nil || s.body.Len() == 0 {
		return nil
	}
	return s.body.Bytes()
}

var _ route.ModelSource = (*reqState)(nil)
