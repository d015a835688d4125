package proxy

import (
	"net/http"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/openai"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// Balancer picks endpoints with the whole request in view (Plan.Pick) and
// hears how each attempt ended. A Forwarder with a Balancer uses it
// instead of Pick.
type Balancer interface {
	// Pick chooses an endpoint of t, avoiding tried ones while others are
	// available. It returns nil when none is available, and an error
	// (picker.ErrShed) when the request is refused for saturation.
	// tried is the Forwarder's (reused): it must not be kept past the call.
	Pick(t *snapshot.Target, p *Plan, tried []*discovery.Endpoint) (*discovery.Endpoint, error)
	// Done is called once per attempt on an endpoint Pick returned, when
	// the attempt ended: code is the upstream status (0 without one) and
	// failure the Result.Failure reason ("" when none).
	Done(t *snapshot.Target, ep *discovery.Endpoint, p *Plan, code int, failure string)
}

// ShedRetryAfter is the Retry-After, in seconds, of a shed request.
const ShedRetryAfter = "1"

func (f *Forwarder) pick(t *snapshot.Target, p *Plan, tried []*discovery.Endpoint) (*discovery.Endpoint, error) {
	if f.Balancer != nil {
		return f.Balancer.Pick(t, p, tried)
	}
	return f.Pick(t, tried), nil
}

// acquire counts an attempt on ep in its in-flight requests and tokens.
func (f *Forwarder) acquire(ep *discovery.Endpoint, p *Plan) {
	ep.InFlight.Add(1)
	ep.State.InFlightTokens.Add(p.Pick.Tokens)
}

// release ends what acquire counted and tells the Balancer.
func (f *Forwarder) release(t *snapshot.Target, ep *discovery.Endpoint, p *Plan, code int, failure string) {
	ep.InFlight.Add(-1)
	ep.State.InFlightTokens.Add(-p.Pick.Tokens)
	if f.Balancer != nil {
		f.Balancer.Done(t, ep, p, code, failure)
	}
}

// shed answers a request refused because every endpoint was saturated.
func (f *Forwarder) shed(w http.ResponseWriter, r *http.Request, res *Result, p *Plan) {
	res.Code, res.Failure = http.StatusTooManyRequests, "shed"
	w.Header().Set("Retry-After", ShedRetryAfter)
	openai.WriteErrorFor(w, r, http.StatusTooManyRequests, openai.TypeRateLimit, openai.CodeOverloaded,
		"every endpoint of "+targetName(p)+" is saturated and this request is sheddable; retry after "+ShedRetryAfter+"s")
}
