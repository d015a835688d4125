package kube

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// endpoints are the resolved addresses of every VirtualNode listener with
// kubernetes discovery, and the nodes whose Service does not resolve.
type endpoints struct {
	addrs    map[discovery.Key][]string
	problems map[config.ObjectKey]problem
}

// resolveEndpoints reads, for every node with serviceDiscovery.kubernetes,
// its Service and the Service's EndpointSlices. A listener's endpoints are
// the ready addresses with the slice port that carries the Service port
// (serviceDiscovery.kubernetes.port, else the listener's port): slices name
// their ports after the Service's, and their port numbers are the
// resolved targetPorts.
func resolveEndpoints(ctx context.Context, r client.Reader, nodes []*v1.VirtualNode) (*endpoints, error) {
	out := &endpoints{addrs: map[discovery.Key][]string{}, problems: map[config.ObjectKey]problem{}}
	for _, n := range nodes {
		sd := n.Spec.ServiceDiscovery
		if sd == nil || sd.Kubernetes == nil || len(n.Spec.Listeners) == 0 {
			continue
		}
		k := sd.Kubernetes
		ns := k.Namespace
		if ns == "" {
			ns = n.Namespace
		}
		node := n.Namespace + "/" + n.Name
		for _, l := range n.Spec.Listeners {
			out.addrs[discovery.Key{Node: node, Port: int(l.PortMapping.Port)}] = nil
		}
		var svc corev1.Service
		err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: k.ServiceName}, &svc)
		if apierrors.IsNotFound(err) {
			out.problems[keyOf(v1.KindVirtualNode, n)] = problem{ref: true, reason: ReasonServiceNotFound,
				message: fmt.Sprintf("spec.serviceDiscovery.kubernetes: Service %s/%s not found; the node has no endpoints until it exists", ns, k.ServiceName)}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get service %s/%s: %w", ns, k.ServiceName, err)
		}
		var eps discoveryv1.EndpointSliceList
		if err := r.List(ctx, &eps, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: k.ServiceName}); err != nil {
			return nil, fmt.Errorf("list endpointslices of %s/%s: %w", ns, k.ServiceName, err)
		}
		var missing []string
		for _, l := range n.Spec.Listeners {
			port := int32(l.PortMapping.Port)
			if k.Port != nil {
				port = int32(*k.Port)
			}
			sp := servicePort(&svc, port)
			if sp == nil {
				missing = append(missing, strconv.Itoa(int(port)))
				continue
			}
			out.addrs[discovery.Key{Node: node, Port: int(l.PortMapping.Port)}] = readyAddrs(eps.Items, sp.Name)
		}
		if len(missing) > 0 {
			out.problems[keyOf(v1.KindVirtualNode, n)] = problem{ref: true, reason: ReasonServicePortNotFound,
				message: fmt.Sprintf("spec.serviceDiscovery.kubernetes: Service %s/%s has no TCP port %s (ports: %s)",
					ns, k.ServiceName, strings.Join(missing, ", "), portNames(&svc))}
		}
	}
	return out, nil
}

// servicePort is the Service's TCP port numbered port.
func servicePort(svc *corev1.Service, port int32) *corev1.ServicePort {
	for i, p := range svc.Spec.Ports {
		if p.Port == port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
}

func portNames(svc *corev1.Service) string {
	var ps []string
	for _, p := range svc.Spec.Ports {
		s := strconv.Itoa(int(p.Port))
		if p.Name != "" {
			s += "/" + p.Name
		}
		ps = append(ps, s)
	}
	if len(ps) == 0 {
		return "none"
	}
	return strings.Join(ps, ", ")
}

// readyAddrs is host:port of every ready endpoint in the slices, with the
// slice port named name. An endpoint whose ready condition is unset counts
// as ready, as the EndpointSlice API says; only an endpoint's first
// address is used, as kube-proxy does.
func readyAddrs(items []discoveryv1.EndpointSlice, name string) []string {
	var out []string
	for _, s := range items {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port := slicePort(s.Ports, name)
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			out = append(out, net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port))))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// slicePort is the number of the TCP port named name, or 0.
func slicePort(ports []discoveryv1.EndpointPort, name string) int32 {
	for _, p := range ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			return *p.Port
		}
	}
	return 0
}

// feed hands the addresses to the registry's sets, creating the sets the
// next Apply will ask for so they are filled before it serves.
func (e *endpoints) feed(reg *discovery.Registry) (changed int) {
	for k, addrs := range e.addrs {
		if reg.Ensure(k, discovery.Spec{}).Update(addrs) {
			changed++
		}
	}
	return changed
}
