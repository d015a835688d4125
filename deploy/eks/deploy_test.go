package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// checks is every check the stack must pass, by name.
var checks = map[string]check{
	"one cluster":    checkOneCluster,
	"cluster role":   checkClusterRole,
	"node role":      checkNodeRole,
	"vpc-cni":        checkVpcCNI,
	"addons":         checkAddons,
	"gpu nodes":      checkGPUNodes,
	"device plugin":  checkDevicePlugin,
	"private nodes":  checkPrivateNodes,
	"network":        checkNetwork,
	"aimesh release": checkAimeshRelease,
	"mesh":           checkMesh,
	"mesh schema":    checkMeshSchema,
	"model server":   checkModelServer,
	"exports":        checkExports,
	"providers":      checkProviders,
}

func TestProgramPassesEveryCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"NAT per zone", func(c *Config) { c.NATPerAZ = true }},
		{"two zones, a Hugging Face token", func(c *Config) { c.AZCount = 2; c.HFToken = "hf_test" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			r := runDeploy(t, cfg, nil, nil)
			for name, c := range checks {
				if err := c(r); err != nil {
					t.Errorf("check %s: %v", name, err)
				}
			}
			nats, zones := len(r.ofType(tNAT)), len(r.ofType(tSubnet))/2
			if want := map[bool]int{false: 1, true: cfg.AZCount}[cfg.NATPerAZ]; nats != want || zones != cfg.AZCount {
				t.Errorf("%d NAT gateways over %d zones, want %d over %d", nats, zones, want, cfg.AZCount)
			}
			if cfg.HFToken != "" {
				env := dig(r.ofType(tDeployment)[0].Inputs, "spec", "template", "spec", "containers", 0, "env", 0)
				if len(r.ofType("kubernetes:core/v1:Secret")) != 1 || str(dig(env, "name")) != "HF_TOKEN" {
					t.Errorf("hfToken set, but no Secret or no HF_TOKEN in vllm's env (%v)", env)
				}
			}
		})
	}
}

// on returns a tweak that edits the args of the resource called name.
func on[A any](name string, edit func(s *Stack, a *A)) Tweak {
	return func(s *Stack, n string, args any) {
		if n == name {
			edit(s, args.(*A))
		}
	}
}

// onPrefix is on for every resource whose name starts with prefix.
func onPrefix[A any](prefix string, edit func(s *Stack, a *A)) Tweak {
	return func(s *Stack, n string, args any) {
		if a, ok := args.(*A); ok && strings.HasPrefix(n, prefix) {
			edit(s, a)
		}
	}
}

// renameMesh renames one aimesh resource.
func renameMesh(name string) Tweak {
	return on("mesh-"+name, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
		a.Metadata.(*metav1.ObjectMetaArgs).Name = pulumi.String(name + "-renamed")
	})
}

// dropExport removes one stack output.
func dropExport(name string) Tweak {
	return func(_ *Stack, n string, args any) {
		if n == "exports" {
			delete(args.(Exports), name)
		}
	}
}

// TestChecksCatchBrokenPrograms breaks the program on purpose, one way at
// a time, and asserts that the check guarding against it fails.
func TestChecksCatchBrokenPrograms(t *testing.T) {
	ec2Trust, err := trustPolicy("ec2.amazonaws.com", "sts:AssumeRole")
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name  string
		check string
		tweak Tweak
		extra func(*pulumi.Context) error // declares more after Deploy
	}{
		{name: "a second EKS cluster, as in the seed", check: "one cluster",
			extra: func(ctx *pulumi.Context) error {
				_, err := eks.NewCluster(ctx, "second", &eks.ClusterArgs{RoleArn: pulumi.String("arn"),
					VpcConfig: &eks.ClusterVpcConfigArgs{SubnetIds: pulumi.ToStringArray([]string{"a", "b"})}})
				return err
			}},
		{name: "cluster role trusts ec2", check: "cluster role",
			tweak: on("cluster-role", func(_ *Stack, a *iam.RoleArgs) { a.AssumeRolePolicy = pulumi.String(ec2Trust) })},
		{name: "cluster role without a policy, as in the seed", check: "cluster role",
			tweak: on("cluster-role-AmazonEKSClusterPolicy", func(_ *Stack, a *iam.RolePolicyAttachmentArgs) {
				a.PolicyArn = pulumi.String("arn:aws:iam::aws:policy/AmazonEKSVPCResourceController")
			})},
		{name: "node role without the CNI policy", check: "node role",
			tweak: on("node-role-AmazonEKS_CNI_Policy", func(_ *Stack, a *iam.RolePolicyAttachmentArgs) {
				a.PolicyArn = pulumi.String("arn:aws:iam::aws:policy/ReadOnlyAccess")
			})},
		{name: "vpc-cni not declared, as in the seed", check: "vpc-cni",
			tweak: on("addon-vpc-cni", func(_ *Stack, a *eks.AddonArgs) { a.AddonName = pulumi.String("aws-ebs-csi-driver") })},
		{name: "vpc-cni without configuration", check: "vpc-cni",
			tweak: on("addon-vpc-cni", func(_ *Stack, a *eks.AddonArgs) { a.ConfigurationValues = nil })},
		{name: "vpc-cni with prefix delegation off", check: "vpc-cni",
			tweak: on("addon-vpc-cni", func(_ *Stack, a *eks.AddonArgs) {
				a.ConfigurationValues = pulumi.String(`{"env":{"ENABLE_PREFIX_DELEGATION":"false"}}`)
			})},
		{name: "no coredns", check: "addons",
			tweak: on("addon-coredns", func(_ *Stack, a *eks.AddonArgs) { a.AddonName = pulumi.String("snapshot-controller") })},
		{name: "GPU nodes without taint", check: "gpu nodes",
			tweak: on("ng-gpu", func(_ *Stack, a *eks.NodeGroupArgs) { a.Taints = nil })},
		{name: "GPU taint only PreferNoSchedule", check: "gpu nodes",
			tweak: on("ng-gpu", func(_ *Stack, a *eks.NodeGroupArgs) {
				a.Taints = eks.NodeGroupTaintArray{eks.NodeGroupTaintArgs{Key: pulumi.String(gpuTaintKey),
					Value: pulumi.String("true"), Effect: pulumi.String("PREFER_NO_SCHEDULE")}}
			})},
		{name: "GPU nodes on the standard AMI", check: "gpu nodes",
			tweak: on("ng-gpu", func(_ *Stack, a *eks.NodeGroupArgs) { a.AmiType = pulumi.String(systemAMIType) })},
		{name: "GPU nodes without the device plugin label", check: "gpu nodes",
			tweak: on("ng-gpu", func(_ *Stack, a *eks.NodeGroupArgs) { a.Labels = pulumi.StringMap{poolLabel: pulumi.String("gpu")} })},
		{name: "no NVIDIA device plugin", check: "device plugin",
			tweak: on("nvidia-device-plugin", func(_ *Stack, a *helmv3.ReleaseArgs) { a.Chart = pulumi.String("dcgm-exporter") })},
		{name: "system nodes in public subnets", check: "private nodes",
			tweak: on("ng-system", func(s *Stack, a *eks.NodeGroupArgs) { a.SubnetIds = s.Network.PublicSubnetIDs })},
		{name: "GPU nodes in public subnets", check: "private nodes",
			tweak: on("ng-gpu", func(s *Stack, a *eks.NodeGroupArgs) { a.SubnetIds = s.Network.PublicSubnetIDs })},
		{name: "GPU nodes in one zone", check: "private nodes",
			tweak: on("ng-gpu", func(s *Stack, a *eks.NodeGroupArgs) { a.SubnetIds = s.Network.PrivateSubnetIDs[:1] })},
		{name: "every subnet in one zone", check: "network",
			tweak: onPrefix("p", func(_ *Stack, a *ec2.SubnetArgs) { a.AvailabilityZone = pulumi.String("us-west-2a") })},
		{name: "public subnets untagged for load balancers", check: "network",
			tweak: onPrefix("public-", func(_ *Stack, a *ec2.SubnetArgs) { a.Tags = pulumi.StringMap{} })},
		{name: "aimesh release misnamed", check: "aimesh release",
			tweak: on(aimeshRelease, func(_ *Stack, a *helmv3.ReleaseArgs) { a.Name = pulumi.String("mesh") })},
		{name: "aimesh chart from elsewhere", check: "aimesh release",
			tweak: on(aimeshRelease, func(_ *Stack, a *helmv3.ReleaseArgs) { a.Chart = pulumi.String("oci://example/aimesh") })},
		{name: "gateway Service not a load balancer", check: "aimesh release",
			tweak: on(aimeshRelease, func(s *Stack, a *helmv3.ReleaseArgs) {
				a.Values = pulumi.ToMap(mergeValues(aimeshValues(s.Config),
					map[string]any{"gateway": map[string]any{"service": map[string]any{"type": "ClusterIP"}}}))
			})},
		{name: "gateway NLB internal", check: "aimesh release",
			tweak: on(aimeshRelease, func(s *Stack, a *helmv3.ReleaseArgs) {
				a.Values = pulumi.ToMap(mergeValues(aimeshValues(s.Config), map[string]any{"gateway": map[string]any{
					"service": map[string]any{"annotations": map[string]any{
						"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}}}}))
			})},
		{name: "Mesh renamed", check: "mesh", tweak: renameMesh(meshName)},
		{name: "ai-virtual-node renamed", check: "mesh", tweak: renameMesh(appNodeName)},
		{name: "VirtualService renamed", check: "mesh", tweak: renameMesh(serviceName)},
		{name: "VirtualRouter renamed", check: "mesh", tweak: renameMesh(routerName)},
		{name: "VirtualGateway renamed", check: "mesh", tweak: renameMesh(gatewayName)},
		{name: "GatewayRoute renamed", check: "mesh", tweak: renameMesh(gatewayRoute)},
		{name: "route target missing", check: "mesh", tweak: renameMesh(modelNodeName)},
		{name: "VirtualService under App Mesh's API group", check: "mesh",
			tweak: on("mesh-"+serviceName, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
				a.ApiVersion = pulumi.String("appmesh.k8s.aws/v1beta2")
			})},
		{name: "mesh namespace not labelled for the Mesh", check: "mesh",
			tweak: on("ns-ai", func(_ *Stack, a *corev1.NamespaceArgs) { a.Metadata.(*metav1.ObjectMetaArgs).Labels = nil })},
		{name: "Mesh without a namespace selector", check: "mesh",
			tweak: on("mesh-"+meshName, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
				delete(a.OtherFields["spec"].(map[string]any), "namespaceSelector")
			})},
		{name: "a field the CRD does not have", check: "mesh schema",
			tweak: on("mesh-"+modelNodeName, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
				a.OtherFields["spec"].(map[string]any)["serviceDiscovery"].(map[string]any)["kubernetes"].(map[string]any)["svcName"] = "vllm"
			})},
		{name: "a listener protocol the CRD does not allow", check: "mesh schema",
			tweak: on("mesh-"+routerName, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
				a.OtherFields["spec"].(map[string]any)["listeners"].([]any)[0].(map[string]any)["portMapping"].(map[string]any)["protocol"] = "quic"
			})},
		{name: "a kind the chart has no CRD for", check: "mesh schema",
			tweak: on("mesh-"+gatewayRoute, func(_ *Stack, a *apiextensions.CustomResourceArgs) { a.Kind = pulumi.String("Route") })},
		{name: "model server off the GPU nodes", check: "model server",
			tweak: on(modelServerName, func(_ *Stack, a *appsv1.DeploymentArgs) {
				a.Spec.(*appsv1.DeploymentSpecArgs).Template.(*corev1.PodTemplateSpecArgs).Spec.(*corev1.PodSpecArgs).Tolerations = nil
			})},
		{name: "llm-v1 discovers the wrong port", check: "model server",
			tweak: on("mesh-"+modelNodeName, func(_ *Stack, a *apiextensions.CustomResourceArgs) {
				a.OtherFields["spec"].(map[string]any)["serviceDiscovery"].(map[string]any)["kubernetes"].(map[string]any)["port"] = 9001
			})},
		{name: "no cluster_name export", check: "exports", tweak: dropExport(exportClusterName)},
		{name: "no kubeconfig export", check: "exports", tweak: dropExport(exportKubeconfig)},
		{name: "no gateway_url export", check: "exports", tweak: dropExport(exportGatewayURL)},
		{name: "kubeconfig in plain text", check: "exports",
			tweak: func(s *Stack, n string, args any) {
				if n == "exports" {
					args.(Exports)[exportKubeconfig] = pulumi.String("{}").ToStringOutput()
				}
			}},
		{name: "a resource on the default AWS provider", check: "providers",
			extra: func(ctx *pulumi.Context) error {
				_, err := ec2.NewVpc(ctx, "stray", &ec2.VpcArgs{CidrBlock: pulumi.String("10.1.0.0/16")})
				return err
			}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			c, ok := checks[v.check]
			if !ok {
				t.Fatalf("no check %q", v.check)
			}
			r := runDeploy(t, DefaultConfig(), v.tweak, v.extra)
			if err := c(r); err == nil {
				t.Errorf("check %q passed on a program broken by %q", v.check, v.name)
			} else {
				t.Logf("check %q fails as it should: %v", v.check, err)
			}
		})
	}
	t.Run("no cluster at all", func(t *testing.T) {
		if err := checkOneCluster(&recording{}); err == nil {
			t.Error("check one cluster passed on an empty program")
		}
	})
	// Every check is exercised by at least one broken variant.
	for name := range checks {
		covered := false
		for _, v := range variants {
			covered = covered || v.check == name
		}
		if !covered {
			t.Errorf("check %q has no broken variant", name)
		}
	}
}
