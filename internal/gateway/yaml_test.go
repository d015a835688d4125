package gateway_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Builders for the YAML documents tests serve. They return whole documents
// starting with "---", so a config is their concatenation.

// meshDoc is the Mesh ai-mesh with an egressFilter (ALLOW_ALL or DROP_ALL).
func meshDoc(egress string) string {
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: ai-mesh}
spec:
  egressFilter: {type: %s}
`, egress)
}

// nodeDoc is a VirtualNode with one listener and static endpoints
// (host:port each).
func nodeDoc(name string, port int, protocol string, addrs ...string) string {
	var eps strings.Builder
	for _, a := range addrs {
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&eps, "        - {address: %s, port: %s}\n", host, p)
	}
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: %s}
spec:
  listeners:
    - portMapping: {port: %d, protocol: %s}
  serviceDiscovery:
    static:
      endpoints:
%s`, name, port, protocol, eps.String())
}

// upNode is an http VirtualNode whose endpoints are the upstreams.
func upNode(name string, ups ...*upstream) string {
	addrs := make([]string, len(ups))
	for i, u := range ups {
		addrs[i] = u.addr()
	}
	return nodeDoc(name, 80, "http", addrs...)
}

// addrNode is an http VirtualNode with the given endpoints.
func addrNode(name string, addrs ...string) string { return nodeDoc(name, 80, "http", addrs...) }

// kubeNode is a VirtualNode with kubernetes service discovery; nothing
// feeds its endpoints in these tests, so it has none.
func kubeNode(name string) string {
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: %s}
spec:
  listeners:
    - portMapping: {port: 80, protocol: http}
  serviceDiscovery:
    kubernetes: {serviceName: %s}
`, name, name)
}

// vsNode is a VirtualService provided by a VirtualNode.
func vsNode(vs, node string) string {
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: %s}
spec:
  provider:
    virtualNode: {virtualNodeName: %s}
`, vs, node)
}

// vsRouter is a VirtualService provided by a VirtualRouter.
func vsRouter(vs, router string) string {
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: %s}
spec:
  provider:
    virtualRouter: {virtualRouterName: %s}
`, vs, router)
}

// backend is a node NAME for the upstreams and a VirtualService NAME.local
// it provides.
func backend(name string, ups ...*upstream) string {
	return upNode(name, ups...) + vsNode(name+".local", name)
}

// routerDoc is a VirtualRouter; listeners are "port/protocol" pairs and
// routes a YAML list (written at column 0, indented here).
func routerDoc(name string, listeners []string, routes string) string {
	var ls strings.Builder
	for _, l := range listeners {
		port, proto, _ := strings.Cut(l, "/")
		fmt.Fprintf(&ls, "    - portMapping: {port: %s, protocol: %s}\n", port, proto)
	}
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: %s}
spec:
  listeners:
%s  routes:
%s`, name, ls.String(), indent(routes, 4))
}

// gatewayDoc is a VirtualGateway with one listener; logging is an
// optional YAML block for spec.logging (column 0).
func gatewayDoc(name string, port int, protocol, logging string) string {
	s := fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: %s}
spec:
  listeners:
    - portMapping: {port: %d, protocol: %s}
`, name, port, protocol)
	if logging != "" {
		s += "  logging:\n" + indent(logging, 4)
	}
	return s
}

// gatewayRouteDoc is a GatewayRoute; spec is its spec (column 0) without
// virtualGatewayRef, which is set to gw.
func gatewayRouteDoc(name, gw, spec string) string {
	return fmt.Sprintf(`
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: %s}
spec:
  virtualGatewayRef: {name: %s}
%s`, name, gw, indent(spec, 2))
}

// indent prefixes every non-empty line of s with n spaces and ends it with
// a newline.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			b.WriteString(pad)
			b.WriteString(l)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// weighted is a weightedTargets list in flow style: node, weight, ...
func weighted(pairs ...any) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, fmt.Sprintf("{virtualNode: %s, weight: %s}", pairs[i], strconv.Itoa(pairs[i+1].(int))))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
