package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/sim"
	"github.com/aimesh/aimesh/test/kubeenv"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// model is the model name the seed mesh's canary route matches.
const model = "llama-3.1-8b-instruct"

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient is a controller-runtime client for the aimesh kinds and the
// built-in ones the tests touch.
func newClient(t *testing.T, env *kubeenv.Env) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, coordinationv1.AddToScheme, authorizationv1.AddToScheme, v1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(env.Config(), client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kubectl runs kubectl against env with stdin and returns its combined
// output.
func kubectl(ctx context.Context, env *kubeenv.Env, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, env.KubectlPath(), append([]string{"--kubeconfig", env.KubeconfigPath()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustKubectl(t *testing.T, ctx context.Context, env *kubeenv.Env, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(ctx, env, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// seedMesh is testdata/seed-mesh.yaml with the gateway listening on
// gatewayPort.
func seedMesh(t *testing.T, gatewayPort int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed-mesh.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "port: 8080 # the gateway listener (tests substitute a free port)"
	if !bytes.Contains(b, []byte(marker)) {
		t.Fatalf("seed-mesh.yaml lost its gateway port marker %q", marker)
	}
	return strings.Replace(string(b), marker, "port: "+strconv.Itoa(gatewayPort), 1)
}

// freePort is a TCP port free on 127.0.0.1 and 127.0.0.2.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			ln2.Close()
			return port
		}
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return 0
}

// modelServer runs a fast simulated model server named name in a new test
// host and returns the host and the server's port there.
func modelServer(t *testing.T, name string) (*kubeenv.TestHost, int) {
	t.Helper()
	h := kubeenv.NewTestHost(t, name)
	cfg := sim.DefaultConfig()
	cfg.Name = name
	cfg.Model = model
	cfg.PrefillOverhead = time.Millisecond
	cfg.PrefillPerToken = 0
	cfg.ITLBase = time.Millisecond
	cfg.ITLPerSeq = 0
	cfg.DefaultMaxTokens = 2
	srv, err := sim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := h.Listen(t, 0)
	r := sim.Serve(context.Background(), ln, srv)
	t.Cleanup(func() { _ = r.Close() })
	return h, kubeenv.Port(ln)
}

// backend is one model-server address behind a Service.
type backend struct {
	addr string
	port int
}

// createService creates a Service with one port named http (port) and,
// unless eps is nil, its EndpointSlice listing eps.
func createService(t *testing.T, ctx context.Context, c client.Client, ns, name string, port int32, eps []backend) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromString("http")}}},
	}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
	if eps != nil {
		if err := c.Create(ctx, endpointSlice(ns, name, eps)); err != nil {
			t.Fatalf("create endpointslice %s: %v", name, err)
		}
	}
}

// endpointSlice lists eps (one target port for all) as ready endpoints of
// Service svc.
func endpointSlice(ns, svc string, eps []backend) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "aimesh-test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	ready := true
	name := "http"
	for i, b := range eps {
		if i == 0 {
			p := int32(b.port)
			s.Ports = []discoveryv1.EndpointPort{{Name: &name, Port: &p}}
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{b.addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return s
}

var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: 10 * time.Second}

// chat posts a one-token chat completion for the seed's model to base and
// returns the status and the model server that answered.
func chat(ctx context.Context, base string) (int, string, error) {
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}],"max_tokens":1}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

// get sends GET base+path with Host host (when set).
func get(ctx context.Context, base, path, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	return do(req)
}

func do(req *http.Request) (int, string, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", fmt.Errorf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode, resp.Header.Get("X-Sim-Server"), nil
}

// eventually retries fn every 100ms until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// servers sends n requests with send and counts who answered; any error
// fails the call.
func servers(n int, send func() (int, string, error)) (map[string]int, error) {
	got := map[string]int{}
	for range n {
		_, who, err := send()
		if err != nil {
			return got, err
		}
		got[who]++
	}
	return got, nil
}

// onlyFrom returns nil when every one of n requests was answered by want.
func onlyFrom(n int, want string, send func() (int, string, error)) error {
	got, err := servers(n, send)
	if err != nil {
		return err
	}
	if got[want] != n {
		return fmt.Errorf("answered by %v, want all %d by %s", got, n, want)
	}
	return nil
}

// logWriter sends a component's log lines to t.Log until the test ends.
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	name string
	done bool
}

func newLogWriter(t *testing.T, name string) *logWriter {
	w := &logWriter{t: t, name: name}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s: %s", w.name, bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}
