package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Env is a running etcd and kube-apiserver. Its methods are safe for
// concurrent use; Start registers Stop with t.Cleanup.
type Env struct {
	opts       options
	assets     string
	dir        string
	etcdData   string
	creds      *credentials
	host       string
	kubeconfig string

	mu        sync.Mutex // serializes start and stop of the processes
	etcd      *process
	apiserver *process
	apiArgs   []string

	cfg       *rest.Config
	clientset *kubernetes.Clientset
}

// Start runs etcd and kube-apiserver for the test and returns when the API
// server is ready and its default namespaces exist. It skips t when the
// binaries are missing (see AssetsDir) and fails t when they do not start.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	assets := o.assetsDir
	if assets == "" {
		assets = AssetsDir()
	}
	requireAssets(t, assets)

	began := time.Now()
	e := &Env{opts: o, assets: assets, dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			e.logTails(t)
		}
		if err := e.Stop(); err != nil {
			t.Errorf("kubeenv: stop: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), o.startTimeout)
	defer cancel()
	if err := e.start(ctx); err != nil {
		t.Fatalf("kubeenv: start: %v", err)
	}
	if o.crdDir != "" {
		if err := e.InstallCRDs(ctx, o.crdDir); err != nil {
			t.Fatalf("kubeenv: %v", err)
		}
	}
	t.Logf("kubeenv: API server %s ready in %s (kubeconfig %s)", e.host, time.Since(began).Round(time.Millisecond), e.kubeconfig)
	return e
}

func (e *Env) start(ctx context.Context) error {
	creds, err := writeCredentials(e.dir)
	if err != nil {
		return err
	}
	e.creds = creds
	// etcd's data lives in memory when /dev/shm exists: fsyncs on a shared
	// disk would dominate start-up.
	dataParent := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dataParent = "/dev/shm"
	}
	removeStaleEtcdData(dataParent)
	if e.etcdData, err = os.MkdirTemp(dataParent, etcdDataPrefix+strconv.Itoa(os.Getpid())+"-"); err != nil {
		return fmt.Errorf("etcd data dir: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	e.etcd = &process{
		name:    "etcd",
		path:    filepath.Join(e.assets, "etcd"),
		logPath: filepath.Join(e.dir, "etcd.log"),
		args: []string{
			"--name=default",
			"--data-dir=" + e.etcdData,
			"--listen-client-urls=" + etcdURL,
			"--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--logger=zap",
			"--log-outputs=stderr",
			"--log-level=warn",
		},
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.etcd.start(); err != nil {
		return err
	}
	if err := waitEtcd(ctx, e.etcd, etcdURL); err != nil {
		return err
	}

	e.host = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	e.apiArgs = append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--cert-dir=" + filepath.Join(e.dir, "certs"),
		"--tls-cert-file=" + creds.certFile,
		"--tls-private-key-file=" + creds.keyFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + creds.saPubFile,
		"--service-account-signing-key-file=" + creds.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--token-auth-file=" + creds.tokensFile,
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		// Without this the API server publishes the machine's own
		// address as the endpoint of the `kubernetes` Service, and a
		// component watching EndpointSlices could send traffic there.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}, e.opts.apiServerFlags...)
	e.apiserver = &process{
		name:    "kube-apiserver",
		path:    filepath.Join(e.assets, "kube-apiserver"),
		logPath: filepath.Join(e.dir, "kube-apiserver.log"),
		args:    e.apiArgs,
	}
	e.cfg = &rest.Config{
		Host:            e.host,
		BearerToken:     creds.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: creds.caPEM},
		QPS:             200,
		Burst:           400,
	}
	if e.clientset, err = kubernetes.NewForConfig(e.cfg); err != nil {
		return fmt.Errorf("clientset: %w", err)
	}
	if err := e.startAPIServerLocked(ctx); err != nil {
		return err
	}
	// /readyz answers before the bootstrap namespaces are written.
	if err := e.waitNamespaces(ctx, "default", "kube-system"); err != nil {
		return err
	}
	e.kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return writeKubeconfig(e.kubeconfig, e.host, creds)
}

// Config returns a copy of the admin *rest.Config for the API server. It
// stays valid across StopAPIServer and StartAPIServer.
func (e *Env) Config() *rest.Config { return rest.CopyConfig(e.cfg) }

// Clientset returns an admin clientset for the API server.
func (e *Env) Clientset() kubernetes.Interface { return e.clientset }

// Host returns the API server's URL, https://127.0.0.1:PORT.
func (e *Env) Host() string { return e.host }

// KubeconfigPath returns a kubeconfig file for the admin user, for kubectl
// (in AssetsDir) or a binary under test started with --kubeconfig.
func (e *Env) KubeconfigPath() string { return e.kubeconfig }

// KubectlPath returns the kubectl binary matching the API server.
func (e *Env) KubectlPath() string { return filepath.Join(e.assets, "kubectl") }

// APIServerRunning reports whether the API server process is up.
func (e *Env) APIServerRunning() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.apiserver.running()
}

// StopAPIServer stops kube-apiserver and waits for it to exit; etcd keeps
// running. Stopping a stopped API server does nothing.
func (e *Env) StopAPIServer() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.apiserver.stop(e.opts.stopGrace)
}

// StartAPIServer starts kube-apiserver again on the same address with the
// same certificates and token, and waits until it is ready. Starting a
// running API server does nothing.
func (e *Env) StartAPIServer(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apiserver.running() {
		return nil
	}
	if !e.etcd.running() {
		return fmt.Errorf("start kube-apiserver: etcd is not running (the env was stopped)")
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.startTimeout)
	defer cancel()
	return e.startAPIServerLocked(ctx)
}

func (e *Env) startAPIServerLocked(ctx context.Context) error {
	if err := e.apiserver.start(); err != nil {
		return err
	}
	if err := waitReadyz(ctx, e.apiserver, e.host, e.creds); err != nil {
		_ = e.apiserver.stop(e.opts.stopGrace)
		return err
	}
	return nil
}

// Stop stops the API server and etcd and removes etcd's data. Start
// registers it with t.Cleanup; calling it again does nothing.
func (e *Env) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.apiserver != nil {
		errs = append(errs, e.apiserver.stop(e.opts.stopGrace))
	}
	if e.etcd != nil {
		errs = append(errs, e.etcd.stop(e.opts.stopGrace))
	}
	if e.etcdData != "" {
		errs = append(errs, os.RemoveAll(e.etcdData))
		e.etcdData = ""
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) logTails(t testing.TB) {
	for _, p := range []*process{e.etcd, e.apiserver} {
		if p != nil {
			t.Logf("kubeenv: last lines of %s:\n%s", p.name, p.logTail(40))
		}
	}
}

// etcdDataPrefix starts the name of each etcd data dir, followed by the
// owning test binary's pid.
const etcdDataPrefix = "aimesh-kubeenv-etcd-"

// removeStaleEtcdData deletes data dirs left by test binaries that died
// before their cleanup ran; in /dev/shm they would hold memory.
func removeStaleEtcdData(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, ent := range entries {
		rest, ok := strings.CutPrefix(ent.Name(), etcdDataPrefix)
		if !ok || !ent.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(filepath.Join(parent, ent.Name()))
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
