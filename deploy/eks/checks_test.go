package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A check inspects one run's recording and says what is wrong with it.
// Each is shown to pass on the real program and to fail on a program
// broken on purpose (deploy_test.go).
type check func(*recording) error

// checkOneCluster: exactly one EKS cluster, and it is a plain
// aws.eks.Cluster (the seed declared one with eks.Cluster and a second one
// with aws.eks.Cluster).
func checkOneCluster(r *recording) error {
	n, comp := len(r.ofType(tCluster)), len(r.ofType(tEKSComp))
	if n != 1 || comp != 0 {
		return fmt.Errorf("want exactly one EKS cluster, got %d aws.eks.Cluster and %d eks.Cluster", n, comp)
	}
	return nil
}

// checkClusterRole: the cluster's role trusts eks.amazonaws.com only and
// has AmazonEKSClusterPolicy.
func checkClusterRole(r *recording) error {
	c, err := theCluster(r)
	if err != nil {
		return err
	}
	if err := checkRole(r, str(c.Inputs["roleArn"]), "eks.amazonaws.com", clusterPolicies); err != nil {
		return fmt.Errorf("cluster role: %w", err)
	}
	return nil
}

// checkNodeRole: every node group's role trusts ec2.amazonaws.com and has
// the worker, CNI and ECR read-only policies.
func checkNodeRole(r *recording) error {
	ngs := r.ofType(tNodeGroup)
	if len(ngs) == 0 {
		return errors.New("no node groups")
	}
	for _, ng := range ngs {
		if err := checkRole(r, str(ng.Inputs["nodeRoleArn"]), "ec2.amazonaws.com", nodePolicies); err != nil {
			return fmt.Errorf("node group %s: %w", ng.Name, err)
		}
	}
	return nil
}

// addon returns the named addon of the cluster, or an error.
func addon(r *recording, name string) (rec, error) {
	c, err := theCluster(r)
	if err != nil {
		return rec{}, err
	}
	var found []rec
	for _, a := range r.ofType(tAddon) {
		if str(a.Inputs["addonName"]) == name && str(a.Inputs["clusterName"]) == str(c.State["name"]) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		return rec{}, fmt.Errorf("want one %s addon on cluster %s, got %d", name, str(c.State["name"]), len(found))
	}
	return found[0], nil
}

// checkVpcCNI: the vpc-cni addon is there with prefix delegation on.
func checkVpcCNI(r *recording) error {
	a, err := addon(r, "vpc-cni")
	if err != nil {
		return err
	}
	var conf struct{ Env map[string]string }
	raw := str(a.Inputs["configurationValues"])
	if raw == "" {
		return errors.New("vpc-cni has no configurationValues: prefix delegation is off")
	}
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		return fmt.Errorf("vpc-cni configurationValues: %w", err)
	}
	if conf.Env["ENABLE_PREFIX_DELEGATION"] != "true" {
		return fmt.Errorf("vpc-cni ENABLE_PREFIX_DELEGATION is %q, want \"true\"", conf.Env["ENABLE_PREFIX_DELEGATION"])
	}
	return nil
}

// checkAddons: coredns, kube-proxy and eks-pod-identity-agent are there.
func checkAddons(r *recording) error {
	var errs []error
	for _, name := range []string{"coredns", "kube-proxy", "eks-pod-identity-agent"} {
		if _, err := addon(r, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isGPUGroup: an NVIDIA/GPU AMI, or a g*/p* instance type.
func isGPUGroup(ng rec) bool {
	ami := str(ng.Inputs["amiType"])
	if strings.Contains(ami, "NVIDIA") || strings.Contains(ami, "GPU") {
		return true
	}
	for _, t := range strs(ng.Inputs["instanceTypes"]) {
		if len(t) > 1 && (t[0] == 'g' || t[0] == 'p') && t[1] >= '0' && t[1] <= '9' {
			return true
		}
	}
	return false
}

// checkGPUNodes: there is a GPU node group, on the NVIDIA AMI, tainted
// nvidia.com/gpu:NoSchedule and labelled for the device plugin.
func checkGPUNodes(r *recording) error {
	var gpu []rec
	for _, ng := range r.ofType(tNodeGroup) {
		if isGPUGroup(ng) {
			gpu = append(gpu, ng)
		}
	}
	if len(gpu) == 0 {
		return errors.New("no GPU node group")
	}
	for _, ng := range gpu {
		if ami := str(ng.Inputs["amiType"]); !strings.Contains(ami, "NVIDIA") {
			return fmt.Errorf("GPU node group %s uses AMI type %q, want an NVIDIA one", ng.Name, ami)
		}
		tainted := false
		for _, t := range list(ng.Inputs["taints"]) {
			if str(dig(t, "key")) == gpuTaintKey && str(dig(t, "effect")) == "NO_SCHEDULE" {
				tainted = true
			}
		}
		if !tainted {
			return fmt.Errorf("GPU node group %s lacks the %s:NoSchedule taint (taints %v)", ng.Name, gpuTaintKey, ng.Inputs["taints"])
		}
		if str(dig(ng.Inputs, "labels", gpuPresent)) != "true" {
			return fmt.Errorf("GPU node group %s lacks the label %s=true", ng.Name, gpuPresent)
		}
	}
	return nil
}

// checkDevicePlugin: the NVIDIA device plugin is installed and tolerates
// the GPU taint.
func checkDevicePlugin(r *recording) error {
	for _, rel := range r.ofType(tRelease) {
		if str(rel.Inputs["chart"]) != "nvidia-device-plugin" {
			continue
		}
		for _, t := range list(dig(rel.Inputs, "values", "tolerations")) {
			if str(dig(t, "key")) == gpuTaintKey {
				return nil
			}
		}
		return errors.New("nvidia-device-plugin does not tolerate the GPU taint")
	}
	return errors.New("no nvidia-device-plugin release")
}

// routing classifies subnets by their default route: through an internet
// gateway (public) or a NAT gateway (private with egress).
type routing struct {
	subnets         map[string]rec // by ID
	public, natted  map[string]bool
	azs             func(ids []string) []string
	publicIDs, priv []string
}

func route(r *recording) routing {
	igw, nat := map[string]bool{}, map[string]bool{}
	for _, x := range r.ofType(tIGW) {
		igw[x.ID] = true
	}
	for _, x := range r.ofType(tNAT) {
		nat[x.ID] = true
	}
	viaIGW, viaNAT := map[string]bool{}, map[string]bool{}
	for _, rt := range r.ofType(tRoute) {
		if str(rt.Inputs["destinationCidrBlock"]) != "0.0.0.0/0" {
			continue
		}
		table := str(rt.Inputs["routeTableId"])
		viaIGW[table] = viaIGW[table] || igw[str(rt.Inputs["gatewayId"])]
		viaNAT[table] = viaNAT[table] || nat[str(rt.Inputs["natGatewayId"])]
	}
	rt := routing{subnets: map[string]rec{}, public: map[string]bool{}, natted: map[string]bool{}}
	for _, s := range r.ofType(tSubnet) {
		rt.subnets[s.ID] = s
	}
	for _, a := range r.ofType(tRTA) {
		sn, table := str(a.Inputs["subnetId"]), str(a.Inputs["routeTableId"])
		rt.public[sn] = rt.public[sn] || viaIGW[table]
		rt.natted[sn] = rt.natted[sn] || viaNAT[table]
	}
	rt.azs = func(ids []string) []string {
		var zones []string
		for _, id := range ids {
			if z := str(rt.subnets[id].Inputs["availabilityZone"]); z != "" && !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		return zones
	}
	for id := range rt.subnets {
		switch {
		case rt.public[id]:
			rt.publicIDs = append(rt.publicIDs, id)
		case rt.natted[id]:
			rt.priv = append(rt.priv, id)
		}
	}
	return rt
}

// checkPrivateNodes: every node group sits only in private subnets that
// reach out through NAT, spread over at least two zones.
func checkPrivateNodes(r *recording) error {
	rt := route(r)
	for _, ng := range r.ofType(tNodeGroup) {
		ids := strs(ng.Inputs["subnetIds"])
		for _, id := range ids {
			if _, ok := rt.subnets[id]; !ok {
				return fmt.Errorf("node group %s uses subnet %s that the program does not declare", ng.Name, id)
			}
			if rt.public[id] || !rt.natted[id] {
				return fmt.Errorf("node group %s sits in subnet %s, which is not private behind NAT", ng.Name, id)
			}
		}
		if z := rt.azs(ids); len(z) < 2 {
			return fmt.Errorf("node group %s spans zones %v, want at least two", ng.Name, z)
		}
	}
	return nil
}

// checkNetwork: public and private subnets in at least two zones, public
// ones tagged for internet-facing load balancers, NAT in a public subnet.
func checkNetwork(r *recording) error {
	rt := route(r)
	if z := rt.azs(rt.publicIDs); len(z) < 2 {
		return fmt.Errorf("public subnets span zones %v, want at least two", z)
	}
	if z := rt.azs(rt.priv); len(z) < 2 {
		return fmt.Errorf("private subnets span zones %v, want at least two", z)
	}
	for _, id := range rt.publicIDs {
		if str(dig(rt.subnets[id].Inputs, "tags", "kubernetes.io/role/elb")) != "1" {
			return fmt.Errorf("public subnet %s lacks the kubernetes.io/role/elb tag", rt.subnets[id].Name)
		}
	}
	nats := r.ofType(tNAT)
	if len(nats) == 0 {
		return errors.New("no NAT gateway")
	}
	for _, n := range nats {
		if !rt.public[str(n.Inputs["subnetId"])] {
			return fmt.Errorf("NAT gateway %s is not in a public subnet", n.Name)
		}
	}
	return nil
}
