package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// checkAimeshRelease: one Helm release named aimesh from the repo's chart
// at ../chart/aimesh, its gateway a LoadBalancer Service with an
// internet-facing NLB.
func checkAimeshRelease(r *recording) error {
	var found []rec
	for _, rel := range r.ofType(tRelease) {
		if str(rel.Inputs["name"]) == aimeshRelease {
			found = append(found, rel)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("want one Helm release named %s, got %d", aimeshRelease, len(found))
	}
	rel := found[0]
	if c := str(rel.Inputs["chart"]); c != "../chart/aimesh" {
		return fmt.Errorf("release %s installs chart %q, want ../chart/aimesh", aimeshRelease, c)
	}
	svc := dig(rel.Inputs, "values", "gateway", "service")
	if t := str(dig(svc, "type")); t != "LoadBalancer" {
		return fmt.Errorf("gateway Service type is %q, want LoadBalancer", t)
	}
	ann := func(k string) string { return str(dig(svc, "annotations", "service.beta.kubernetes.io/"+k)) }
	switch lb := ann("aws-load-balancer-type"); {
	case lb == "nlb" && ann("aws-load-balancer-internal") == "":
	case lb == "external" && ann("aws-load-balancer-scheme") == "internet-facing":
	default:
		return fmt.Errorf("gateway Service annotations %v do not ask for an internet-facing NLB", dig(svc, "annotations"))
	}
	if num(dig(rel.Inputs, "values", "replicaCount")) < 1 || num(dig(rel.Inputs, "values", "gateway", "port")) < 1 {
		return errors.New("release values lack replicaCount or gateway.port")
	}
	return nil
}

// meshObjects indexes the aimesh resources by kind/name.
func meshObjects(r *recording) map[string]rec {
	out := map[string]rec{}
	for _, x := range r.Resources {
		if strings.HasPrefix(x.Type, tMeshPrefix) {
			out[strings.TrimPrefix(x.Type, tMeshPrefix)+"/"+str(dig(x.Inputs, "metadata", "name"))] = x
		}
	}
	return out
}

// checkMesh: the seed's mesh is declared as aimesh.io/v1alpha1 resources
// with the seed's names, and every reference between them resolves.
func checkMesh(r *recording) error {
	objs := meshObjects(r)
	for _, want := range []string{"Mesh/" + meshName, "VirtualNode/" + appNodeName, "VirtualService/" + serviceName,
		"VirtualRouter/" + routerName, "VirtualGateway/" + gatewayName, "GatewayRoute/" + gatewayRoute} {
		o, ok := objs[want]
		if !ok {
			return fmt.Errorf("no aimesh.io/v1alpha1 %s", want)
		}
		scoped := str(dig(o.Inputs, "metadata", "namespace")) != ""
		if cluster := strings.HasPrefix(want, "Mesh/"); scoped == cluster {
			return fmt.Errorf("%s: namespaced=%v, want %v", want, scoped, !cluster)
		}
	}
	refs := map[string]string{ // referring field -> kind/name it must name
		"VirtualNode/" + appNodeName: "VirtualService/" + str(dig(objs["VirtualNode/"+appNodeName].Inputs,
			"spec", "backends", 0, "virtualService", "virtualServiceName")),
		"VirtualService/" + serviceName: "VirtualRouter/" + str(dig(objs["VirtualService/"+serviceName].Inputs,
			"spec", "provider", "virtualRouter", "virtualRouterName")),
		"GatewayRoute/" + gatewayRoute + " gateway": "VirtualGateway/" + str(dig(objs["GatewayRoute/"+gatewayRoute].Inputs,
			"spec", "virtualGatewayRef", "name")),
		"GatewayRoute/" + gatewayRoute + " target": "VirtualService/" + str(dig(objs["GatewayRoute/"+gatewayRoute].Inputs,
			"spec", "httpRoute", "action", "target", "virtualService", "virtualServiceName")),
	}
	routes := list(dig(objs["VirtualRouter/"+routerName].Inputs, "spec", "routes"))
	if len(routes) == 0 {
		return fmt.Errorf("VirtualRouter/%s has no routes", routerName)
	}
	for _, rt := range routes {
		for i, t := range list(dig(rt, "httpRoute", "action", "weightedTargets")) {
			refs[fmt.Sprintf("route %s target %d", str(dig(rt, "name")), i)] = "VirtualNode/" + str(dig(t, "virtualNode"))
		}
	}
	for from, to := range refs {
		if _, ok := objs[to]; !ok {
			return fmt.Errorf("%s refers to %s, which is not declared", from, to)
		}
	}
	return checkMeshSelectsNamespaces(r, objs)
}

// checkMeshSelectsNamespaces: in Kubernetes mode a Mesh selects namespaces
// by label (absent selector: none), so every namespace holding mesh
// resources must carry the Mesh's matchLabels.
func checkMeshSelectsNamespaces(r *recording, objs map[string]rec) error {
	sel := dig(objs["Mesh/"+meshName].Inputs, "spec", "namespaceSelector")
	if sel == nil {
		return fmt.Errorf("Mesh/%s has no namespaceSelector: it selects no namespace", meshName)
	}
	labels := map[string]map[string]any{} // namespace -> labels
	for _, ns := range r.ofType("kubernetes:core/v1:Namespace") {
		m, _ := dig(ns.Inputs, "metadata", "labels").(map[string]any)
		labels[str(dig(ns.Inputs, "metadata", "name"))] = m
	}
	want, _ := dig(sel, "matchLabels").(map[string]any)
	for key, o := range objs {
		ns := str(dig(o.Inputs, "metadata", "namespace"))
		if ns == "" {
			continue
		}
		for k, v := range want {
			if labels[ns][k] != v {
				return fmt.Errorf("%s is in namespace %s, which Mesh/%s does not select (%s=%v)", key, ns, meshName, k, v)
			}
		}
	}
	return nil
}

// checkModelServer: the vLLM Deployment runs on the GPU nodes, its Service
// serves port 8000, and a VirtualNode finds it through that Service.
func checkModelServer(r *recording) error {
	var dep *rec
	for _, d := range r.ofType(tDeployment) {
		if str(dig(d.Inputs, "metadata", "name")) == modelServerName {
			dep = &d
		}
	}
	if dep == nil {
		return errors.New("no vllm Deployment")
	}
	pod := dig(dep.Inputs, "spec", "template", "spec")
	tolerates := false
	for _, t := range list(dig(pod, "tolerations")) {
		tolerates = tolerates || str(dig(t, "key")) == gpuTaintKey
	}
	if !tolerates || str(dig(pod, "nodeSelector", gpuPresent)) != "true" {
		return errors.New("vllm does not select and tolerate the GPU nodes")
	}
	if str(dig(pod, "containers", 0, "resources", "limits", "nvidia.com/gpu")) == "" {
		return errors.New("vllm does not ask for a GPU")
	}
	ns := str(dig(dep.Inputs, "metadata", "namespace"))
	var svc *rec
	for _, s := range r.ofType(tService) {
		if !s.Read && str(dig(s.Inputs, "metadata", "name")) == modelServerName && str(dig(s.Inputs, "metadata", "namespace")) == ns {
			svc = &s
		}
	}
	if svc == nil || num(dig(svc.Inputs, "spec", "ports", 0, "port")) != modelServerPort {
		return fmt.Errorf("no Service %s/%s on port %d", ns, modelServerName, modelServerPort)
	}
	for key, o := range meshObjects(r) {
		k := dig(o.Inputs, "spec", "serviceDiscovery", "kubernetes")
		if strings.HasPrefix(key, "VirtualNode/") && str(dig(k, "serviceName")) == modelServerName &&
			str(dig(k, "namespace")) == ns && num(dig(k, "port")) == modelServerPort {
			return nil
		}
	}
	return fmt.Errorf("no VirtualNode discovers Service %s/%s port %d", ns, modelServerName, modelServerPort)
}

// checkExports: cluster_name, kubeconfig (secret, usable) and gateway_url.
func checkExports(r *recording) error {
	for _, name := range []string{exportClusterName, exportKubeconfig, exportGatewayURL} {
		e, ok := r.Exports[name]
		if !ok || str(e.Value) == "" {
			return fmt.Errorf("export %s is missing or empty", name)
		}
	}
	c, err := theCluster(r)
	if err != nil {
		return err
	}
	if got := str(r.Exports[exportClusterName].Value); got != str(c.State["name"]) {
		return fmt.Errorf("cluster_name is %q, the cluster is %q", got, str(c.State["name"]))
	}
	kc := r.Exports[exportKubeconfig]
	if !kc.Secret {
		return errors.New("kubeconfig is not exported as a secret")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(str(kc.Value)), &doc); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if str(dig(doc, "clusters", 0, "cluster", "server")) != str(c.State["endpoint"]) ||
		str(dig(doc, "users", 0, "user", "exec", "command")) != "aws" {
		return errors.New("kubeconfig does not point at the cluster with aws eks get-token")
	}
	if u := str(r.Exports[exportGatewayURL].Value); !strings.HasPrefix(u, "http://"+mockHostname+":") {
		return fmt.Errorf("gateway_url %q is not the gateway NLB's", u)
	}
	return nil
}

// checkProviders: every AWS resource and call goes through the stack's
// explicit AWS provider (so through the configured region), every
// Kubernetes resource through the new cluster's provider.
func checkProviders(r *recording) error {
	for _, x := range r.Resources {
		var want string
		switch {
		case strings.HasPrefix(x.Type, "aws:"):
			want = "::pulumi:providers:aws::aws::"
		case strings.HasPrefix(x.Type, "kubernetes:"):
			want = "::pulumi:providers:kubernetes::kube::"
		default:
			continue
		}
		if !strings.Contains(x.Provider, want) {
			return fmt.Errorf("%s %s uses provider %q, want the stack's %s", x.Type, x.Name, x.Provider, want)
		}
	}
	for _, c := range r.Calls {
		if strings.HasPrefix(c.Token, "aws:") && !strings.Contains(c.Provider, "::pulumi:providers:aws::aws::") {
			return fmt.Errorf("call %s uses provider %q", c.Token, c.Provider)
		}
	}
	return nil
}
