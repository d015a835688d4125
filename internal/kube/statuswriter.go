package kube

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// board hands the latest desired statuses from the syncer (every replica)
// to the status writer (the leader).
type board struct {
	mu      sync.Mutex
	desired map[config.ObjectKey]desired
	notify  chan struct{}
}

func newBoard() *board { return &board{notify: make(chan struct{}, 1)} }

func (b *board) publish(d map[config.ObjectKey]desired) {
	b.mu.Lock()
	b.desired = d
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *board) load() map[config.ObjectKey]desired {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.desired)
}

// statusWriter patches status conditions. With leader election it runs on
// the leader only.
type statusWriter struct {
	board  *board
	client client.Client
	log    *slog.Logger
	resync time.Duration
	leader bool
}

// NeedLeaderElection makes the manager start the writer on the leader.
func (w *statusWriter) NeedLeaderElection() bool { return w.leader }

// Start writes statuses whenever the syncer publishes, every resync, and
// again soon after a failed write, until ctx ends.
func (w *statusWriter) Start(ctx context.Context) error {
	w.log.Info("writing status conditions", "leader_elected", w.leader)
	retry := time.Second
	timer := time.NewTimer(w.resync)
	defer timer.Stop()
	for {
		failed := w.writeAll(ctx)
		next := w.resync
		if failed > 0 {
			next = retry
			retry = min(2*retry, time.Minute)
		} else {
			retry = time.Second
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return nil
		case <-w.board.notify:
		case <-timer.C:
		}
	}
}

// writeAll patches every status that differs from the desired one and
// returns how many writes failed.
func (w *statusWriter) writeAll(ctx context.Context) (failed int) {
	written := 0
	for k, d := range w.board.load() {
		changed, err := w.write(ctx, k, d)
		switch {
		case err != nil:
			failed++
			w.log.Warn("status write failed; will retry", "kind", k.Kind, "name", k.DisplayName(), "err", err)
		case changed:
			written++
		}
	}
	if written > 0 {
		w.log.Debug("status written", "resources", written)
	}
	return failed
}

// write patches one resource's status when it differs from d.
func (w *statusWriter) write(ctx context.Context, k config.ObjectKey, d desired) (bool, error) {
	obj, st := newObject(k.Kind)
	if obj == nil {
		return false, fmt.Errorf("unknown kind %q", k.Kind)
	}
	if err := w.client.Get(ctx, types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil // deleted since the sync
		}
		return false, fmt.Errorf("get: %w", err)
	}
	orig := obj.DeepCopyObject().(client.Object)
	changed := st.ObservedGeneration != d.generation
	st.ObservedGeneration = d.generation
	for _, c := range d.conds {
		c.ObservedGeneration = d.generation
		if meta.SetStatusCondition(&st.Conditions, c) {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	if err := w.client.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("patch status: %w", err)
	}
	return true, nil
}

// newObject returns an empty object of an aimesh kind and its status.
func newObject(kind string) (client.Object, *v1.Status) {
	switch kind {
	case v1.KindMesh:
		o := &v1.Mesh{}
		return o, &o.Status
	case v1.KindVirtualNode:
		o := &v1.VirtualNode{}
		return o, &o.Status
	case v1.KindVirtualService:
		o := &v1.VirtualService{}
		return o, &o.Status
	case v1.KindVirtualRouter:
		o := &v1.VirtualRouter{}
		return o, &o.Status
	case v1.KindVirtualGateway:
		o := &v1.VirtualGateway{}
		return o, &o.Status
	case v1.KindGatewayRoute:
		o := &v1.GatewayRoute{}
		return o, &o.Status
	}
	return nil, nil
}
