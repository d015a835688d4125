package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Network is the VPC: public subnets hold the NLB and the NAT gateways,
// private subnets hold the nodes and reach the internet through NAT.
type Network struct {
	Vpc              *ec2.Vpc
	AZs              []string
	PublicSubnetIDs  pulumi.StringArray
	PrivateSubnetIDs pulumi.StringArray
}

// network declares the VPC across cfg.AZCount availability zones.
func (d *deployer) network() (*Network, error) {
	cfg := d.cfg
	zones, err := aws.GetAvailabilityZones(d.ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		// Local and Wavelength zones have no EKS control plane or GPUs.
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	}, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("list availability zones in %s: %w", cfg.Region, err)
	}
	if len(zones.Names) < cfg.AZCount {
		return nil, fmt.Errorf("region %s has %d availability zones, azCount is %d", cfg.Region, len(zones.Names), cfg.AZCount)
	}
	net := &Network{AZs: zones.Names[:cfg.AZCount]}
	d.s.Network = net

	vpcArgs := &ec2.VpcArgs{
		CidrBlock: pulumi.String(cfg.VpcCidr),
		// EKS needs both for nodes to register and for private endpoint access.
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               d.tags("vpc", nil),
	}
	d.tw("vpc", vpcArgs)
	if net.Vpc, err = ec2.NewVpc(d.ctx, "vpc", vpcArgs, d.awsOpt); err != nil {
		return nil, fmt.Errorf("vpc: %w", err)
	}
	igwArgs := &ec2.InternetGatewayArgs{VpcId: net.Vpc.ID(), Tags: d.tags("igw", nil)}
	d.tw("igw", igwArgs)
	igw, err := ec2.NewInternetGateway(d.ctx, "igw", igwArgs, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("internet gateway: %w", err)
	}
	publicRT, err := d.routeTable("rt-public", net.Vpc, &ec2.RouteArgs{GatewayId: igw.ID()})
	if err != nil {
		return nil, err
	}

	// Subnet tags: the load balancer controllers place internet-facing
	// NLBs in role/elb subnets and internal ones in role/internal-elb
	// subnets; the in-tree one also needs the cluster tag.
	clusterTag := "kubernetes.io/cluster/" + cfg.ClusterName
	var nats []*ec2.NatGateway
	for i, az := range net.AZs {
		cidr, err := publicSubnetCIDR(cfg.VpcCidr, i)
		if err != nil {
			return nil, fmt.Errorf("public subnet %s: %w", az, err)
		}
		pub, err := d.subnet("public-"+az, net.Vpc, az, cidr, publicRT,
			map[string]string{"kubernetes.io/role/elb": "1", clusterTag: "shared"})
		if err != nil {
			return nil, err
		}
		net.PublicSubnetIDs = append(net.PublicSubnetIDs, pub.ID())
		if i == 0 || cfg.NATPerAZ {
			nat, err := d.natGateway("nat-"+az, pub, igw)
			if err != nil {
				return nil, err
			}
			nats = append(nats, nat)
		}
	}
	for i, az := range net.AZs {
		nat := nats[0]
		if cfg.NATPerAZ {
			nat = nats[i]
		}
		rt, err := d.routeTable("rt-private-"+az, net.Vpc, &ec2.RouteArgs{NatGatewayId: nat.ID()})
		if err != nil {
			return nil, err
		}
		cidr, err := privateSubnetCIDR(cfg.VpcCidr, i)
		if err != nil {
			return nil, fmt.Errorf("private subnet %s: %w", az, err)
		}
		priv, err := d.subnet("private-"+az, net.Vpc, az, cidr, rt,
			map[string]string{"kubernetes.io/role/internal-elb": "1", clusterTag: "shared"})
		if err != nil {
			return nil, err
		}
		net.PrivateSubnetIDs = append(net.PrivateSubnetIDs, priv.ID())
	}
	return net, nil
}

// routeTable declares a route table whose default route (0.0.0.0/0) is
// the target set in def.
func (d *deployer) routeTable(name string, vpc *ec2.Vpc, def *ec2.RouteArgs) (*ec2.RouteTable, error) {
	rtArgs := &ec2.RouteTableArgs{VpcId: vpc.ID(), Tags: d.tags(name, nil)}
	d.tw(name, rtArgs)
	rt, err := ec2.NewRouteTable(d.ctx, name, rtArgs, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("route table %s: %w", name, err)
	}
	def.RouteTableId = rt.ID()
	def.DestinationCidrBlock = pulumi.String("0.0.0.0/0")
	d.tw(name+"-default", def)
	if _, err := ec2.NewRoute(d.ctx, name+"-default", def, d.awsOpt); err != nil {
		return nil, fmt.Errorf("default route of %s: %w", name, err)
	}
	return rt, nil
}

// subnet declares a subnet in one zone and associates it with rt.
func (d *deployer) subnet(name string, vpc *ec2.Vpc, az, cidr string, rt *ec2.RouteTable, tags map[string]string) (*ec2.Subnet, error) {
	args := &ec2.SubnetArgs{
		VpcId:            vpc.ID(),
		AvailabilityZone: pulumi.String(az),
		CidrBlock:        pulumi.String(cidr),
		Tags:             d.tags(name, tags),
	}
	d.tw(name, args)
	sn, err := ec2.NewSubnet(d.ctx, name, args, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("subnet %s: %w", name, err)
	}
	assoc := &ec2.RouteTableAssociationArgs{SubnetId: sn.ID(), RouteTableId: rt.ID()}
	d.tw(name+"-rta", assoc)
	if _, err := ec2.NewRouteTableAssociation(d.ctx, name+"-rta", assoc, d.awsOpt); err != nil {
		return nil, fmt.Errorf("route table association %s: %w", name, err)
	}
	return sn, nil
}

// natGateway declares a NAT gateway with its Elastic IP in a public subnet.
func (d *deployer) natGateway(name string, public *ec2.Subnet, igw *ec2.InternetGateway) (*ec2.NatGateway, error) {
	eipArgs := &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: d.tags(name, nil)}
	d.tw(name+"-eip", eipArgs)
	eip, err := ec2.NewEip(d.ctx, name+"-eip", eipArgs, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("elastic ip %s: %w", name, err)
	}
	args := &ec2.NatGatewayArgs{SubnetId: public.ID(), AllocationId: eip.ID(), Tags: d.tags(name, nil)}
	d.tw(name, args)
	nat, err := ec2.NewNatGateway(d.ctx, name, args, d.awsOpt, pulumi.DependsOn([]pulumi.Resource{igw}))
	if err != nil {
		return nil, fmt.Errorf("nat gateway %s: %w", name, err)
	}
	return nat, nil
}
