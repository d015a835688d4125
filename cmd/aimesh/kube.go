package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/kube"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The gateway is what the Kubernetes control plane drives.
var _ kube.Dataplane = (*gateway.Gateway)(nil)

// kubeFlags are the flags of `aimesh run --kubernetes`.
type kubeFlags struct {
	enabled     bool
	kubeconfig  string
	namespace   string
	leaderElect bool
}

func (kf *kubeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&kf.enabled, "kubernetes", false, "read the mesh from the Kubernetes API (aimesh.io CRDs, Services, EndpointSlices) instead of -f files")
	fs.StringVar(&kf.kubeconfig, "kubeconfig", "", "kubeconfig file for --kubernetes; default: in-cluster config, else $KUBECONFIG or ~/.kube/config")
	fs.StringVar(&kf.namespace, "namespace", "", "namespace of the leader election Lease; default: $POD_NAMESPACE, else the pod's service account namespace")
	fs.BoolVar(&kf.leaderElect, "leader-elect", true, "with --kubernetes, elect one replica (a Lease) to write status conditions; every replica serves")
}

// runKubernetes serves the cluster's mesh until ctx ends.
func runKubernetes(ctx context.Context, rf *runFlags, kf *kubeFlags, stderr io.Writer) int {
	if len(rf.files) > 0 {
		fmt.Fprintln(stderr, "aimesh run: --kubernetes reads the mesh from the API server: drop -f", strings.Join(rf.files, " "))
		return 2
	}
	log, err := rf.logger(stderr)
	if err == nil {
		err = rf.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "aimesh run:", err)
		return 2
	}
	cfg, err := kf.restConfig()
	if err != nil {
		fmt.Fprintln(stderr, "aimesh run:", err)
		return 1
	}
	ns := kf.leaseNamespace()
	if kf.leaderElect && ns == "" {
		fmt.Fprintln(stderr, "aimesh run: --leader-elect needs the Lease namespace: pass --namespace or set POD_NAMESPACE")
		return 2
	}
	kube.BridgeLogs(log)
	opts := rf.gatewayOptions(log)
	opts.Kubernetes = true
	g := gateway.New(opts)
	return serve(ctx, g, rf, log, func(ctx context.Context) {
		err := kube.Run(ctx, g, kube.Options{
			Config:           cfg,
			Mesh:             rf.mesh,
			Namespace:        ns,
			LeaderElect:      kf.leaderElect,
			LeaderElectionID: leaseName(rf.mesh),
			Log:              log,
		})
		if err != nil {
			log.Error("kubernetes control plane failed", "err", err)
		}
	})
}

// restConfig is --kubeconfig, else the in-cluster config, else the usual
// kubeconfig loading rules ($KUBECONFIG, ~/.kube/config).
func (kf *kubeFlags) restConfig() (*rest.Config, error) {
	if kf.kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kf.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kf.kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err == nil {
		return cfg, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("not in a cluster and no usable kubeconfig (pass --kubeconfig): %w", err)
	}
	return cfg, nil
}

// leaseName is the Lease replicas serving mesh elect a status writer
// with; the Helm chart's RBAC names the same one.
func leaseName(mesh string) string {
	if mesh == "" {
		return "aimesh-status"
	}
	name := "aimesh-status-" + mesh
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimSuffix(name, "-")
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func (kf *kubeFlags) leaseNamespace() string {
	if kf.namespace != "" {
		return kf.namespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile(serviceAccountNamespace); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}
