package kube

import (
	"slices"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func ptr[T any](v T) *T { return &v }

func service(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func slice(ns, name, svc string, typ discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: typ, Ports: ports, Endpoints: eps,
	}
}

func endpoint(addr string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func fakeReader(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func kubeNode(ns, name, svc, svcNS string, port *v1.PortNumber, listeners ...v1.PortNumber) *v1.VirtualNode {
	n := &v1.VirtualNode{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, l := range listeners {
		n.Spec.Listeners = append(n.Spec.Listeners, v1.Listener{PortMapping: v1.PortMapping{Port: l, Protocol: v1.ProtocolHTTP}})
	}
	n.Spec.ServiceDiscovery = &v1.ServiceDiscovery{Kubernetes: &v1.KubernetesServiceDiscovery{ServiceName: svc, Namespace: svcNS, Port: port}}
	return n
}

func TestResolveEndpoints(t *testing.T) {
	http := discoveryv1.EndpointPort{Name: ptr("http"), Port: ptr(int32(9000))}
	metrics := discoveryv1.EndpointPort{Name: ptr("metrics"), Port: ptr(int32(9100))}
	r := fakeReader(t,
		service("models", "vllm",
			corev1.ServicePort{Name: "http", Port: 8000, TargetPort: intstr.FromString("http")},
			corev1.ServicePort{Name: "metrics", Port: 9100}),
		slice("models", "vllm-a", "vllm", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{http, metrics},
			endpoint("198.18.0.2", ptr(true)), endpoint("198.18.1.2", nil), endpoint("198.18.2.2", ptr(false))),
		slice("models", "vllm-b", "vllm", discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{http},
			endpoint("fd00::2", ptr(true))),
		slice("models", "vllm-fqdn", "vllm", discoveryv1.AddressTypeFQDN, []discoveryv1.EndpointPort{http},
			endpoint("vllm.example.com", ptr(true))),
		slice("models", "other", "other", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{http},
			endpoint("198.18.9.2", ptr(true))),
		service("models", "noports"),
	)
	nodes := []*v1.VirtualNode{
		kubeNode("ai", "vllm", "vllm", "models", nil, 8000),
		kubeNode("ai", "metrics", "vllm", "models", ptr(v1.PortNumber(9100)), 7000),
		kubeNode("models", "missing", "nope", "", nil, 8000),
		kubeNode("models", "portless", "noports", "", nil, 8000),
	}
	eps, err := resolveEndpoints(t.Context(), r, nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[discovery.Key][]string{
		{Node: "ai/vllm", Port: 8000}:         {"198.18.0.2:9000", "198.18.1.2:9000", "[fd00::2]:9000"},
		{Node: "ai/metrics", Port: 7000}:      {"198.18.0.2:9100", "198.18.1.2:9100"},
		{Node: "models/missing", Port: 8000}:  nil,
		{Node: "models/portless", Port: 8000}: nil,
	}
	if len(eps.addrs) != len(want) {
		t.Errorf("resolved %d keys, want %d: %v", len(eps.addrs), len(want), eps.addrs)
	}
	for k, w := range want {
		got, ok := eps.addrs[k]
		if !ok || !slices.Equal(got, w) {
			t.Errorf("%v: got %v (present %v), want %v", k, got, ok, w)
		}
	}
	wantProblems := map[config.ObjectKey]string{
		{Kind: v1.KindVirtualNode, Namespace: "models", Name: "missing"}:  ReasonServiceNotFound,
		{Kind: v1.KindVirtualNode, Namespace: "models", Name: "portless"}: ReasonServicePortNotFound,
	}
	if len(eps.problems) != len(wantProblems) {
		t.Errorf("problems %v, want %v", eps.problems, wantProblems)
	}
	for k, reason := range wantProblems {
		if got := eps.problems[k]; got.reason != reason || !got.ref {
			t.Errorf("%s: problem %+v, want ref reason %s", k.DisplayName(), got, reason)
		}
	}

	reg := discovery.NewRegistry(nil)
	if n := eps.feed(reg); n != 2 {
		t.Errorf("feed changed %d sets, want 2", n)
	}
	set := reg.Ensure(discovery.Key{Node: "ai/vllm", Port: 8000}, discovery.Spec{})
	if got := len(set.Endpoints()); got != 3 {
		t.Errorf("set has %d endpoints after feed, want 3", got)
	}
	if n := eps.feed(reg); n != 0 {
		t.Errorf("second feed changed %d sets, want 0", n)
	}
}
