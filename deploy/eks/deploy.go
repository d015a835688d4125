package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Exports are the stack outputs by name.
type Exports map[string]pulumi.Output

// The stack outputs docs/eks.md and scripts rely on.
const (
	exportClusterName = "cluster_name"
	exportKubeconfig  = "kubeconfig" // secret
	exportGatewayURL  = "gateway_url"
)

// Stack is what Deploy has declared so far, for tweaks to read.
type Stack struct {
	Config  Config
	Network *Network
	Cluster *eks.Cluster
}

// Tweak, when not nil, is called with every resource's logical name and
// its *Args just before the resource is declared, and last with "exports"
// and the Exports. Production passes nil; tests pass tweaks that break the
// program on purpose to show that each check notices.
type Tweak func(s *Stack, name string, args any)

// deployer carries what every declaring method needs.
type deployer struct {
	ctx       *pulumi.Context
	cfg       Config
	s         *Stack
	tweak     Tweak
	awsOpt    pulumi.ResourceOrInvokeOption // the stack's explicit AWS provider
	kubeOpt   pulumi.ResourceOrInvokeOption // the new cluster's Kubernetes provider
	partition string                        // aws, aws-cn, aws-us-gov
}

func (d *deployer) tw(name string, args any) {
	if d.tweak != nil {
		d.tweak(d.s, name, args)
	}
}

// tags names an AWS resource after the cluster (name "" is the cluster
// itself); the provider adds the stack-wide tags.
func (d *deployer) tags(name string, extra map[string]string) pulumi.StringMap {
	full := d.cfg.ClusterName
	if name != "" {
		full += "-" + name
	}
	t := pulumi.StringMap{"Name": pulumi.String(full)}
	for k, v := range extra {
		t[k] = pulumi.String(v)
	}
	return t
}

// Deploy declares the whole stack for cfg and returns its outputs.
func Deploy(ctx *pulumi.Context, cfg Config, tweak Tweak) (Exports, error) {
	d := &deployer{ctx: ctx, cfg: cfg, s: &Stack{Config: cfg}, tweak: tweak}
	// An explicit provider pins every AWS resource to the configured region
	// and tags them all for cost allocation.
	provArgs := &aws.ProviderArgs{
		Region: pulumi.String(cfg.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"project": pulumi.String("aimesh"), "aimesh.io/cluster": pulumi.String(cfg.ClusterName)}},
	}
	d.tw("aws", provArgs)
	prov, err := aws.NewProvider(ctx, "aws", provArgs)
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	d.awsOpt = pulumi.Provider(prov)
	part, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{}, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("aws partition: %w", err)
	}
	d.partition = part.Partition

	net, err := d.network()
	if err != nil {
		return nil, err
	}
	clusterRole, err := d.clusterRole()
	if err != nil {
		return nil, err
	}
	nodeRole, err := d.nodeRole()
	if err != nil {
		return nil, err
	}
	cl, err := d.cluster(net, clusterRole, nodeRole)
	if err != nil {
		return nil, err
	}

	if err := d.kubeProvider(cl); err != nil {
		return nil, err
	}
	plugin, err := d.devicePlugin(cl)
	if err != nil {
		return nil, err
	}
	chart, gatewayURL, err := d.aimesh(cl)
	if err != nil {
		return nil, err
	}
	ns, err := d.namespace(cfg.ModelNamespace, map[string]string{meshLabel: meshName}, cl.Ready)
	if err != nil {
		return nil, err
	}
	if err := d.modelServer(ns, plugin); err != nil {
		return nil, err
	}
	if err := d.mesh(ns.Metadata.Name().Elem(), cfg.ModelNamespace, chart); err != nil {
		return nil, err
	}

	exports := Exports{
		exportClusterName: cl.Cluster.Name,
		exportKubeconfig:  pulumi.ToSecret(cl.Kubeconfig),
		exportGatewayURL:  gatewayURL,
	}
	d.tw("exports", exports)
	return exports, nil
}
