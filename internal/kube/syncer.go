package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// syncState outlives a manager, so a restarted one does not re-apply an
// unchanged configuration.
type syncState struct {
	mu          sync.Mutex
	applied     string // fingerprint of the last applied resources
	unservable  string // fingerprint of the last resources nothing could be served of
	lastProblem string // last "no mesh to serve" reason logged
}

// syncer is the compile-and-swap loop. It runs on every replica.
type syncer struct {
	dp     Dataplane
	reader client.Reader
	opts   Options
	log    *slog.Logger
	state  *syncState
	board  *board
	poke   chan struct{}
}

// NeedLeaderElection is false: every replica serves.
func (s *syncer) NeedLeaderElection() bool { return false }

// watch registers the informers and the event handlers that poke s.
func (s *syncer) watch(ctx context.Context, c cache.Cache) error {
	kinds := []struct {
		obj    client.Object
		update func(old, cur any) bool
	}{
		{&v1.Mesh{}, specChanged}, {&v1.VirtualNode{}, specChanged}, {&v1.VirtualService{}, specChanged},
		{&v1.VirtualRouter{}, specChanged}, {&v1.VirtualGateway{}, specChanged}, {&v1.GatewayRoute{}, specChanged},
		{&corev1.Namespace{}, labelsChanged},
		{&corev1.Service{}, always}, {&discoveryv1.EndpointSlice{}, always},
	}
	for _, k := range kinds {
		inf, err := c.GetInformer(ctx, k.obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", k.obj, err)
		}
		update := k.update
		_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { s.kick() },
			UpdateFunc: func(old, cur any) {
				if update(old, cur) {
					s.kick()
				}
			},
			DeleteFunc: func(any) { s.kick() },
		})
		if err != nil {
			return fmt.Errorf("event handler for %T: %w", k.obj, err)
		}
	}
	return nil
}

// specChanged ignores status-only updates (the status writer's own).
func specChanged(old, cur any) bool {
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	return !ok1 || !ok2 || o.GetGeneration() != c.GetGeneration() || o.GetUID() != c.GetUID()
}

func labelsChanged(old, cur any) bool {
	o, ok1 := old.(metav1.Object)
	c, ok2 := cur.(metav1.Object)
	return !ok1 || !ok2 || !equality.Semantic.DeepEqual(o.GetLabels(), c.GetLabels())
}

func always(_, _ any) bool { return true }

func (s *syncer) kick() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Start syncs once the caches have synced, then after every burst of
// events, until ctx ends.
func (s *syncer) Start(ctx context.Context) error {
	if c, ok := s.reader.(cache.Cache); ok && !c.WaitForCacheSync(ctx) {
		return nil // ctx ended
	}
	s.sync(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.poke:
		}
		if !s.settle(ctx) {
			return nil
		}
		s.sync(ctx)
	}
}

// settle waits until no event arrived for Debounce, or for ten times
// Debounce in all. It returns false when ctx ended.
func (s *syncer) settle(ctx context.Context) bool {
	deadline := time.NewTimer(10 * s.opts.Debounce)
	defer deadline.Stop()
	quiet := time.NewTimer(s.opts.Debounce)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-s.poke:
			quiet.Reset(s.opts.Debounce)
		case <-quiet.C:
			return true
		case <-deadline.C:
			return true
		}
	}
}

// sync reads the cache, feeds endpoints, applies the resources when they
// changed, and publishes the statuses.
func (s *syncer) sync(ctx context.Context) {
	sel, err := selectResources(ctx, s.reader, s.opts.Mesh)
	if err != nil {
		s.log.Error("kubernetes sync failed; still serving the last configuration", "err", err)
		return
	}
	if sel.mesh == nil {
		s.noMesh(sel.problem)
		return
	}
	p := sel.plan()
	var nodes []*v1.VirtualNode
	if p.served != nil {
		nodes = p.served.VirtualNodes
	}
	eps, err := resolveEndpoints(ctx, s.reader, nodes)
	if err != nil {
		s.log.Error("endpoint resolution failed; keeping the last endpoints", "err", err)
	} else if n := eps.feed(s.dp.Endpoints()); n > 0 {
		s.log.Debug("endpoints updated", "sets", n)
	}
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	s.state.lastProblem = ""
	var applyErr error
	switch {
	case p.served == nil:
		if sel.fingerprint != s.state.unservable {
			s.state.unservable = sel.fingerprint
			s.logDropped(p)
			s.log.Error("nothing in the mesh can be served; still serving the last configuration", "mesh", sel.mesh.Name, "problems", joinMessages(globalMessages(p)))
		}
	case sel.fingerprint == s.state.applied:
		// Only endpoints (or nothing we serve) changed.
	default:
		s.logDropped(p)
		if applyErr = s.dp.Apply(p.served); applyErr != nil {
			s.log.Error("gateway refused the configuration; still serving the previous one", "err", applyErr)
		} else {
			s.state.applied = sel.fingerprint
		}
	}
	s.board.publish(computeStatus(sel, p, eps, applyErr))
}

// noMesh logs, once per distinct reason, that there is no Mesh to serve.
func (s *syncer) noMesh(problem string) {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	if problem != s.state.lastProblem {
		s.log.Warn("no mesh to serve; still serving the last configuration", "reason", problem)
		s.state.lastProblem = problem
	}
	s.board.publish(nil)
}

func globalMessages(p *plan) []string {
	msgs := make([]string, len(p.global))
	for i, fe := range p.global {
		msgs[i] = fe.Error()
	}
	return msgs
}

// logDropped logs each resource left out of the configuration.
func (s *syncer) logDropped(p *plan) {
	for k, fes := range p.problems {
		msgs := make([]string, len(fes))
		for i, fe := range fes {
			msgs[i] = fe.Error()
		}
		s.log.Warn("resource not served", "kind", k.Kind, "name", k.DisplayName(), "problems", joinMessages(msgs))
	}
}
