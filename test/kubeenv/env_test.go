package kubeenv

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestStartServesAPIAndCRDs(t *testing.T) {
	env := Start(t, WithCRDDir(filepath.Join("test", "kubeenv", "testdata", "crds")))
	ctx := testContext(t)
	cs := env.Clientset()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubeenv-test"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	dyn, err := dynamic.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	widgets := dyn.Resource(schema.GroupVersionResource{Group: "kubeenv.aimesh.io", Version: "v1alpha1", Resource: "widgets"})
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kubeenv.aimesh.io/v1alpha1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": "w1"},
		"spec":       map[string]any{"size": int64(3)},
	}}
	if _, err := widgets.Namespace("kubeenv-test").Create(ctx, w, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create custom resource: %v", err)
	}
	// The CRD's schema is enforced: size has minimum 1.
	w.SetName("w2")
	w.Object["spec"] = map[string]any{"size": int64(0)}
	if _, err := widgets.Namespace("kubeenv-test").Create(ctx, w, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("create widget with size 0: err = %v, want Invalid", err)
	}

	out, err := exec.CommandContext(ctx, env.KubectlPath(), "--kubeconfig", env.KubeconfigPath(),
		"get", "widgets", "-n", "kubeenv-test", "-o", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get widgets: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "widget.kubeenv.aimesh.io/w1" {
		t.Fatalf("kubectl get widgets = %q, want widget.kubeenv.aimesh.io/w1", got)
	}
}

// TestProjectCRDsInstall checks the generated CRDs against a real API server
// (structural schemas, CEL rules) once they exist.
func TestProjectCRDsInstall(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readCRDs(filepath.Join(root, CRDDir)); err != nil {
		t.Skipf("no generated CRDs yet: %v", err)
	}
	Start(t, WithCRDDir(CRDDir))
}

func TestServiceWithTestHostEndpoint(t *testing.T) {
	host := NewTestHost(t, "model-a")
	url := host.Serve(t, 8000, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host)
	}))

	// The host reaches the server in the namespace at its 198.18.x address.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/v1/models")
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello from") {
		t.Fatalf("GET %s = %s %q", url, resp.Status, body)
	}

	env := Start(t)
	ctx := testContext(t)
	cs := env.Clientset()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "model-a", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Ports:     []corev1.ServicePort{{Name: "http", Port: 8000}},
		},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, endpointSlice("model-a-1", "model-a", host.Addr.String()), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create endpointslice with test host %s: %v", host.Addr, err)
	}
	// The reason test hosts exist: loopback endpoints are refused.
	_, err = cs.DiscoveryV1().EndpointSlices("default").Create(ctx, endpointSlice("model-a-lo", "model-a", "127.0.0.1"), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create endpointslice with 127.0.0.1: err = %v, want Invalid", err)
	}
	slices, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=model-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(slices.Items) != 1 || slices.Items[0].Endpoints[0].Addresses[0] != host.Addr.String() {
		t.Fatalf("endpointslices for model-a = %+v, want one with %s", slices.Items, host.Addr)
	}
}

func endpointSlice(name, service, addr string) *discoveryv1.EndpointSlice {
	port, proto, ready := int32(8000), corev1.ProtocolTCP, true
	portName := "http"
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: "default",
			Labels:    map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
}

func TestStopAndRestartAPIServer(t *testing.T) {
	env := Start(t)
	ctx := testContext(t)
	cs := env.Clientset()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survives"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(began).Round(time.Millisecond))
	if env.APIServerRunning() {
		t.Fatal("APIServerRunning after StopAPIServer")
	}
	if err := env.StopAPIServer(); err != nil {
		t.Fatalf("second StopAPIServer: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().ConfigMaps("default").Get(short, "survives", metav1.GetOptions{}); err == nil {
		t.Fatal("get succeeded while the API server is stopped")
	}

	began = time.Now()
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(began).Round(time.Millisecond))
	// Clients made before the stop work again: same address, CA and token;
	// the data survives because etcd kept running.
	for _, c := range []kubernetes.Interface{cs, kubernetes.NewForConfigOrDie(env.Config())} {
		got, err := c.CoreV1().ConfigMaps("default").Get(ctx, "survives", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get after restart: %v", err)
		}
		if got.Data["k"] != "v" {
			t.Fatalf("configmap after restart = %v", got.Data)
		}
	}
}
