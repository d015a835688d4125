package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
)

// Dataplane is what the control plane drives: the gateway.
type Dataplane interface {
	// Apply compiles and serves res; on error the previous config keeps
	// serving.
	Apply(res *config.Resources) error
	// Endpoints is the registry whose sets kubernetes discovery feeds.
	Endpoints() *discovery.Registry
}

// Options configure Run.
type Options struct {
	// Config reaches the API server.
	Config *rest.Config
	// Mesh is the Mesh to serve; empty means the only one.
	Mesh string
	// Namespace holds the leader election Lease (the pod's namespace).
	Namespace string
	// LeaderElect: only the holder of the Lease writes status. Without it,
	// this replica always writes.
	LeaderElect bool
	// LeaderElectionID names the Lease (default aimesh-status).
	LeaderElectionID string
	// Identity of this replica in the Lease (default hostname_random).
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election
	// (defaults 15s, 10s, 2s, as in controller-runtime).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Debounce is how long events must be quiet before a sync (default
	// 100ms); a sync waits at most ten times that.
	Debounce time.Duration
	// StatusResync is how often the leader rechecks every status it owns,
	// repairing edits by others (default 5m).
	StatusResync time.Duration
	// RestartBackoff is the first wait before a stopped manager is started
	// again; it doubles up to maxRestartBackoff (default 1s).
	RestartBackoff time.Duration
	Log            *slog.Logger
}

func (o *Options) setDefaults() {
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "aimesh-status"
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = host + "_" + rand.String(8)
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline <= 0 {
		o.RenewDeadline = 10 * time.Second
	}
	if o.RetryPeriod <= 0 {
		o.RetryPeriod = 2 * time.Second
	}
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
	if o.StatusResync <= 0 {
		o.StatusResync = 5 * time.Minute
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// maxRestartBackoff bounds the wait between manager restarts, and so how
// long after the API server comes back a replica that lost it catches up.
const maxRestartBackoff = 5 * time.Second

// Run serves the cluster's mesh through dp until ctx ends. A manager that
// stops (lost Lease, API server gone for long) is started again with
// backoff while dp keeps serving what it has. Call BridgeLogs first to
// have client-go's own logs in Options.Log.
func Run(ctx context.Context, dp Dataplane, o Options) error {
	if o.Config == nil {
		return errors.New("kube: no rest.Config")
	}
	if o.LeaderElect && o.Namespace == "" {
		return errors.New("kube: leader election needs the Lease namespace (--namespace)")
	}
	o.setDefaults()
	st := &syncState{}
	backoff := o.RestartBackoff
	for {
		began := time.Now()
		err := runManager(ctx, dp, o, st)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > time.Minute {
			backoff = o.RestartBackoff
		}
		o.Log.Warn("kubernetes control plane stopped; the gateway keeps serving its last configuration",
			"err", err, "restart_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxRestartBackoff)
	}
}

// runManager runs one manager: informers, the syncer on every replica and
// the status writer on the leader.
func runManager(ctx context.Context, dp Dataplane, o Options, st *syncState) error {
	mgr, err := newManager(o)
	if err != nil {
		return err
	}
	b := newBoard()
	s := &syncer{dp: dp, reader: mgr.GetCache(), opts: o, log: o.Log, state: st, board: b,
		poke: make(chan struct{}, 1)}
	if err := s.watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	w := &statusWriter{board: b, client: mgr.GetClient(), log: o.Log, resync: o.StatusResync, leader: o.LeaderElect}
	if err := mgr.Add(s); err != nil {
		return fmt.Errorf("add syncer: %w", err)
	}
	if err := mgr.Add(w); err != nil {
		return fmt.Errorf("add status writer: %w", err)
	}
	o.Log.Info("kubernetes control plane starting", "host", o.Config.Host, "mesh", o.Mesh,
		"leader_elect", o.LeaderElect, "lease", o.Namespace+"/"+o.LeaderElectionID, "identity", o.Identity)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	return nil
}
