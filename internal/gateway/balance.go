package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/health"
	"github.com/aimesh/aimesh/internal/modelserver"
	"github.com/aimesh/aimesh/internal/openai"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/policies"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// balance is the gateway's proxy.Balancer and the owner of the long-lived
// per-endpoint machinery behind it: endpoint picking with its prefix
// indexes (picker), the model-server metric collectors (modelserver) and
// active checks and outlier detection (health). All three are keyed by
// endpoint Set and synced from each new snapshot before it is served.
type balance struct {
	picker *picker.Balancer
	models *modelserver.Manager
	health *health.Manager
}

var _ proxy.Balancer = (*balance)(nil)

func newBalance(log *slog.Logger) *balance {
	pb, err := picker.NewBalancer(policies.Registry())
	if err != nil {
		panic("aimesh: the built-in policy registry has no roundRobin: " + err.Error())
	}
	return &balance{picker: pb, models: modelserver.NewManager(log), health: health.NewManager(log)}
}

// prepare builds snap's picking policies without using them: the only
// step that can refuse a configuration, run before anything changes.
func (b *balance) prepare(snap *snapshot.Snapshot) (*picker.Prepared, error) {
	var pts []picker.Target
	for _, t := range snap.Targets() {
		if t.Endpoints != nil && t.Spec != nil {
			pts = append(pts, picker.Target{Set: t.Endpoints, LoadBalancing: t.Spec.LoadBalancing, ModelServer: t.Spec.ModelServer})
		}
	}
	p, err := b.picker.Prepare(pts)
	if err != nil {
		return nil, fmt.Errorf("load balancing: %w", err)
	}
	return p, nil
}

// commit puts snap's picking, scraping and health settings in use, just
// before snap is served.
func (b *balance) commit(p *picker.Prepared, snap *snapshot.Snapshot) {
	var (
		mts []modelserver.Target
		hts []health.Target
	)
	for _, t := range snap.Targets() {
		if t.Endpoints == nil || t.Spec == nil {
			continue
		}
		mts = append(mts, modelserver.Target{Set: t.Endpoints, Spec: t.Spec.ModelServer})
		ht := health.Target{Set: t.Endpoints}
		if t.Listener != nil {
			ht.HealthCheck, ht.OutlierDetection = t.Listener.HealthCheck, t.Listener.OutlierDetection
		}
		hts = append(hts, ht)
	}
	b.picker.Commit(p)
	b.models.Sync(mts)
	b.health.Sync(hts)
}

func (b *balance) close() {
	b.models.Close()
	b.health.Close()
}

// Pick implements proxy.Balancer.
func (b *balance) Pick(t *snapshot.Target, p *proxy.Plan, tried []*discovery.Endpoint) (*discovery.Endpoint, error) {
	return b.picker.Pick(t.Endpoints, &p.Pick, tried)
}

// Done implements proxy.Balancer: outcomes feed outlier detection.
func (b *balance) Done(t *snapshot.Target, ep *discovery.Endpoint, _ *proxy.Plan, code int, failure string) {
	b.health.Observe(t.Endpoints, ep, code, failure)
}

// needsPrompt reports whether a policy of the plan's targets reads the
// prompt.
func (b *balance) needsPrompt(p *proxy.Plan) bool {
	if p.Target != nil && p.Target.Endpoints != nil && b.picker.NeedsPrompt(p.Target.Endpoints) {
		return true
	}
	if p.Route != nil {
		for _, t := range p.Route.Fallback {
			if t.Endpoints != nil && b.picker.NeedsPrompt(t.Endpoints) {
				return true
			}
		}
	}
	return false
}

// preparePick fills what picking knows of the request: its criticality
// (the route's, overridden by the x-aimesh-criticality header) and, for
// policies that read it, the prompt and token estimate. The body is read
// (bounded) only then; a body that is not an OpenAI JSON object just
// gives no prompt. Only a body that cannot be read is an error.
func (g *Gateway) preparePick(st *reqState, r *http.Request) error {
	pk := &st.plan.Pick
	if st.plan.Route != nil {
		switch st.plan.Route.Criticality {
		case "Critical":
			pk.Criticality = picker.Critical
		case "Sheddable":
			pk.Criticality = picker.Sheddable
		}
	}
	if h := r.Header[picker.CriticalityHeader]; len(h) > 0 {
		if c, ok := picker.ParseCriticality(h[0]); ok {
			pk.Criticality = c
		}
	}
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if hasBody && !st.bodyRead && g.lb.needsPrompt(&st.plan) {
		if err := st.readBody(); err != nil {
			return err
		}
	}
	if st.bodyRead && st.bodyErr == nil && st.body.Len() > 0 {
		if _, err := st.Model(); err != nil && !errors.Is(err, openai.ErrBadJSON) && !errors.Is(err, openai.ErrModelNotString) {
			return err
		}
		pk.Prompt = st.info.Prompt
		pk.Tokens = picker.EstimateTokens(len(st.info.Prompt), st.info.MaxTokens)
		if pk.Prompt == nil {
			pk.Tokens = picker.EstimateTokens(st.body.Len(), 0)
		}
		return nil
	}
	if r.ContentLength > 0 {
		pk.Tokens = picker.EstimateTokens(int(r.ContentLength), 0)
	}
	return nil
}
