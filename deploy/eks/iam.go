package main

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The managed policies each role needs (AWS documents both lists in the
// EKS user guide: "Amazon EKS cluster IAM role", "Amazon EKS node IAM role").
var (
	clusterPolicies = []string{"AmazonEKSClusterPolicy"}
	nodePolicies    = []string{
		"AmazonEKSWorkerNodePolicy",          // join the cluster, describe EC2
		"AmazonEKS_CNI_Policy",               // vpc-cni assigns ENIs, IPs and prefixes
		"AmazonEC2ContainerRegistryReadOnly", // pull addon and ECR images
	}
)

// Role is an IAM role and the policy attachments that make it usable;
// resources that use the role depend on the attachments.
type Role struct {
	Role        *iam.Role
	Attachments []pulumi.Resource
}

// trustPolicy is the assume-role policy letting an AWS service principal
// assume the role.
func trustPolicy(service string, actions ...string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": service},
			"Action":    actions,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("trust policy for %s: %w", service, err)
	}
	return string(b), nil
}

// clusterRole is the role the EKS control plane assumes. sts:TagSession
// lets EKS pass session tags, which newer EKS features require.
func (d *deployer) clusterRole() (*Role, error) {
	trust, err := trustPolicy("eks.amazonaws.com", "sts:AssumeRole", "sts:TagSession")
	if err != nil {
		return nil, err
	}
	return d.role("cluster-role", trust, "EKS control plane of "+d.cfg.ClusterName, clusterPolicies)
}

// nodeRole is the instance role of every managed node.
func (d *deployer) nodeRole() (*Role, error) {
	trust, err := trustPolicy("ec2.amazonaws.com", "sts:AssumeRole")
	if err != nil {
		return nil, err
	}
	return d.role("node-role", trust, "EKS nodes of "+d.cfg.ClusterName, nodePolicies)
}

// role declares a role with a trust policy and attaches AWS managed
// policies by name, in the partition the stack runs in.
func (d *deployer) role(name, trust, description string, policies []string) (*Role, error) {
	args := &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(trust),
		Description:      pulumi.String(description),
		Tags:             d.tags(name, nil),
	}
	d.tw(name, args)
	role, err := iam.NewRole(d.ctx, name, args, d.awsOpt)
	if err != nil {
		return nil, fmt.Errorf("iam role %s: %w", name, err)
	}
	out := &Role{Role: role}
	for _, p := range policies {
		attName := name + "-" + p
		att := &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/%s", d.partition, p),
		}
		d.tw(attName, att)
		a, err := iam.NewRolePolicyAttachment(d.ctx, attName, att, d.awsOpt)
		if err != nil {
			return nil, fmt.Errorf("attach %s to %s: %w", p, name, err)
		}
		out.Attachments = append(out.Attachments, a)
	}
	return out, nil
}
