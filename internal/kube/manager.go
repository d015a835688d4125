package kube

import (
	"fmt"
	"log/slog"
	"sync"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// newScheme knows the kinds the control plane reads and writes.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, v1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("scheme: %w", err)
		}
	}
	return s, nil
}

// newManager builds a manager whose only network listener is the API
// client: the gateway's admin listener serves health and metrics.
func newManager(o Options) (manager.Manager, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	lease, renew, retry := o.LeaseDuration, o.RenewDeadline, o.RetryPeriod
	mo := manager.Options{
		Scheme:                 scheme,
		Logger:                 logr.FromSlogHandler(o.Log.Handler()),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			// Managed fields are most of a small object's bytes and
			// nothing here reads them.
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
	}
	if o.LeaderElect {
		lock, err := leaseLock(o)
		if err != nil {
			return nil, err
		}
		mo.LeaderElectionResourceLockInterface = lock
	}
	mgr, err := manager.New(o.Config, mo)
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	return mgr, nil
}

// leaseLock is the Lease the replicas compete for. It records no Events,
// so the replicas need no RBAC on Events.
func leaseLock(o Options) (resourcelock.Interface, error) {
	cs, err := coordinationv1.NewForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.LeaderElectionID},
		Client:     cs,
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.Identity},
	}, nil
}

var bridgeOnce sync.Once

// BridgeLogs sends controller-runtime's and client-go's logs (logr and
// klog) to log. Both libraries keep one global logger, and klog's may not
// be replaced while anything logs through it, so call BridgeLogs once, at
// start-up, before any goroutine uses client-go; later calls do nothing.
func BridgeLogs(log *slog.Logger) {
	bridgeOnce.Do(func() {
		l := logr.FromSlogHandler(log.Handler())
		ctrllog.SetLogger(l)
		klog.SetLogger(l)
	})
}
