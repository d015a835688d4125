package main

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GPU node group identity: the NVIDIA taint keeps everything that does not
// ask for a GPU off the expensive nodes; the gpu.present label is what the
// NVIDIA device plugin chart's default node affinity selects.
const (
	gpuTaintKey      = "nvidia.com/gpu"
	gpuPresent       = "nvidia.com/gpu.present"
	poolLabel        = "aimesh.io/pool"
	gpuAMIType       = "AL2023_x86_64_NVIDIA"
	systemAMIType    = "AL2023_x86_64_STANDARD"
	vpcCNIConfig     = `{"env":{"ENABLE_PREFIX_DELEGATION":"true","WARM_PREFIX_TARGET":"1"}}`
	resolveConflicts = "OVERWRITE"
)

// Cluster is the EKS control plane, its addons and managed node groups.
type Cluster struct {
	Cluster    *eks.Cluster
	Kubeconfig pulumi.StringOutput
	// Ready is what Kubernetes workloads depend on: the addons and the
	// system node group (so also coredns, which needs nodes).
	Ready []pulumi.Resource
	// GPUNodes is the GPU node group; only GPU workloads wait for it, so a
	// slow or quota-bound GPU group does not hold up the mesh.
	GPUNodes pulumi.Resource
}

// cluster declares the one EKS cluster of the stack.
func (d *deployer) cluster(net *Network, clusterRole, nodeRole *Role) (*Cluster, error) {
	cfg := d.cfg
	args := &eks.ClusterArgs{
		Name:    pulumi.String(cfg.ClusterName),
		RoleArn: clusterRole.Role.Arn,
		Version: pulumi.String(cfg.KubernetesVersion),
		VpcConfig: &eks.ClusterVpcConfigArgs{
			// Control plane ENIs go into the node subnets; load balancers
			// find the public subnets by their tags.
			SubnetIds:             net.PrivateSubnetIDs,
			EndpointPrivateAccess: pulumi.Bool(true),
			EndpointPublicAccess:  pulumi.Bool(true),
			PublicAccessCidrs:     pulumi.ToStringArray(cfg.APIPublicCIDRs),
		},
		// Access entries only; whoever runs `pulumi up` becomes admin.
		AccessConfig: &eks.ClusterAccessConfigArgs{
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		// The addons below are EKS-managed; do not also install the
		// self-managed defaults they would then have to take over.
		BootstrapSelfManagedAddons: pulumi.Bool(false),
		Tags:                       d.tags("", nil),
	}
	d.tw("cluster", args)
	c, err := eks.NewCluster(d.ctx, "cluster", args, d.awsOpt, pulumi.DependsOn(clusterRole.Attachments))
	if err != nil {
		return nil, fmt.Errorf("eks cluster: %w", err)
	}
	d.s.Cluster = c
	out := &Cluster{Cluster: c}

	// Networking addons go in before any node joins: nodes come up with
	// prefix delegation already on, so their max-pods is computed for it.
	var beforeNodes []pulumi.Resource
	for _, name := range []string{"vpc-cni", "kube-proxy", "eks-pod-identity-agent"} {
		config := ""
		if name == "vpc-cni" {
			config = vpcCNIConfig
		}
		a, err := d.addon(c, name, config, nil)
		if err != nil {
			return nil, err
		}
		beforeNodes = append(beforeNodes, a)
	}
	deps := append(append([]pulumi.Resource{}, nodeRole.Attachments...), beforeNodes...)
	system, err := d.nodeGroup("ng-system", c, net, nodeRole, cfg.System, systemAMIType,
		map[string]string{poolLabel: "system"}, nil, deps)
	if err != nil {
		return nil, err
	}
	gpu, err := d.nodeGroup("ng-gpu", c, net, nodeRole, cfg.GPU, gpuAMIType,
		map[string]string{poolLabel: "gpu", gpuPresent: "true"},
		eks.NodeGroupTaintArray{eks.NodeGroupTaintArgs{
			Key: pulumi.String(gpuTaintKey), Value: pulumi.String("true"), Effect: pulumi.String("NO_SCHEDULE"),
		}}, deps)
	if err != nil {
		return nil, err
	}
	// coredns is a Deployment: it only turns ACTIVE once nodes can run it.
	coredns, err := d.addon(c, "coredns", "", []pulumi.Resource{system})
	if err != nil {
		return nil, err
	}
	out.Ready = append(append(out.Ready, beforeNodes...), system, coredns)
	out.GPUNodes = gpu

	out.Kubeconfig = pulumi.All(c.Name, c.Endpoint, c.CertificateAuthority.Data()).ApplyT(
		func(v []any) (string, error) {
			ca, _ := v[2].(*string)
			if ca == nil {
				return "", fmt.Errorf("cluster %v has no certificate authority", v[0])
			}
			return kubeconfig(v[0].(string), v[1].(string), *ca, cfg.Region)
		}).(pulumi.StringOutput)
	return out, nil
}

// addon declares an EKS-managed addon; addonVersions pins its version.
func (d *deployer) addon(c *eks.Cluster, name, config string, deps []pulumi.Resource) (*eks.Addon, error) {
	args := &eks.AddonArgs{
		ClusterName:              c.Name,
		AddonName:                pulumi.String(name),
		ResolveConflictsOnCreate: pulumi.String(resolveConflicts),
		ResolveConflictsOnUpdate: pulumi.String(resolveConflicts),
	}
	if v := d.cfg.AddonVersions[name]; v != "" {
		args.AddonVersion = pulumi.String(v)
	}
	if config != "" {
		args.ConfigurationValues = pulumi.String(config)
	}
	d.tw("addon-"+name, args)
	a, err := eks.NewAddon(d.ctx, "addon-"+name, args, d.awsOpt, pulumi.DependsOn(deps))
	if err != nil {
		return nil, fmt.Errorf("eks addon %s: %w", name, err)
	}
	return a, nil
}

// nodeGroup declares a managed node group in the private subnets.
func (d *deployer) nodeGroup(name string, c *eks.Cluster, net *Network, role *Role, pool NodePool,
	amiType string, labels map[string]string, taints eks.NodeGroupTaintArray, deps []pulumi.Resource,
) (*eks.NodeGroup, error) {
	args := &eks.NodeGroupArgs{
		ClusterName:   c.Name,
		Version:       c.Version, // follow the control plane on upgrades
		NodeRoleArn:   role.Role.Arn,
		SubnetIds:     net.PrivateSubnetIDs,
		AmiType:       pulumi.String(amiType),
		InstanceTypes: pulumi.ToStringArray([]string{pool.InstanceType}),
		CapacityType:  pulumi.String(pool.CapacityType),
		DiskSize:      pulumi.Int(pool.DiskSize),
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(pool.Min),
			DesiredSize: pulumi.Int(pool.Desired),
			MaxSize:     pulumi.Int(pool.Max),
		},
		UpdateConfig: &eks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(1)},
		Labels:       pulumi.ToStringMap(labels),
		Taints:       taints,
		Tags:         d.tags(name, nil),
	}
	d.tw(name, args)
	ng, err := eks.NewNodeGroup(d.ctx, name, args, d.awsOpt, pulumi.DependsOn(deps),
		// An autoscaler owns the desired size once the group exists.
		pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}))
	if err != nil {
		return nil, fmt.Errorf("node group %s: %w", name, err)
	}
	return ng, nil
}

// kubeconfig renders a kubeconfig (JSON, which kubectl reads as YAML) that
// authenticates with `aws eks get-token`, so it holds no credential.
func kubeconfig(cluster, endpoint, caData, region string) (string, error) {
	named := func(key string, v any) []map[string]any {
		return []map[string]any{{"name": cluster, key: v}}
	}
	doc := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": cluster,
		"clusters":        named("cluster", map[string]any{"server": endpoint, "certificate-authority-data": caData}),
		"contexts":        named("context", map[string]any{"cluster": cluster, "user": cluster}),
		"users": named("user", map[string]any{"exec": map[string]any{
			"apiVersion":      "client.authentication.k8s.io/v1beta1",
			"command":         "aws",
			"args":            []string{"--region", region, "eks", "get-token", "--cluster-name", cluster, "--output", "json"},
			"interactiveMode": "Never",
		}}),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("kubeconfig for %s: %w", cluster, err)
	}
	return string(b), nil
}
