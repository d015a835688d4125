package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Resource type tokens the checks look for.
const (
	tCluster    = "aws:eks/cluster:Cluster"
	tEKSComp    = "eks:index:Cluster" // pulumi-eks's component (the seed's eks.Cluster)
	tRole       = "aws:iam/role:Role"
	tAttachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	tAddon      = "aws:eks/addon:Addon"
	tNodeGroup  = "aws:eks/nodeGroup:NodeGroup"
	tSubnet     = "aws:ec2/subnet:Subnet"
	tIGW        = "aws:ec2/internetGateway:InternetGateway"
	tNAT        = "aws:ec2/natGateway:NatGateway"
	tRoute      = "aws:ec2/route:Route"
	tRTA        = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	tRelease    = "kubernetes:helm.sh/v3:Release"
	tDeployment = "kubernetes:apps/v1:Deployment"
	tService    = "kubernetes:core/v1:Service"
	tMeshPrefix = "kubernetes:aimesh.io/v1alpha1:"
)

func (r *recording) ofType(typ string) []rec {
	var out []rec
	for _, x := range r.Resources {
		if x.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

// byID finds a declared resource of a type by its ID, or returns nil.
func (r *recording) byID(typ, id string) *rec {
	for _, x := range r.ofType(typ) {
		if x.ID == id {
			return &x
		}
	}
	return nil
}

// dig walks maps by string key and slices by int index; nil if absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs reads a string or a list of strings (IAM accepts both).
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, str(e))
		}
		return out
	}
	return nil
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// trust returns the service principals and actions an assume-role policy
// allows.
func trust(policy string) (services, actions []string, err error) {
	var doc struct {
		Statement []struct {
			Effect    string
			Principal map[string]any
			Action    any
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil, nil, fmt.Errorf("assume role policy is not JSON: %w", err)
	}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			continue
		}
		if len(s.Principal) != 1 || s.Principal["Service"] == nil {
			return nil, nil, fmt.Errorf("assume role policy trusts %v, not only a service", s.Principal)
		}
		services = append(services, strs(s.Principal["Service"])...)
		actions = append(actions, strs(s.Action)...)
	}
	return services, actions, nil
}

// checkRole verifies a role's trust (exactly service, with sts:AssumeRole)
// and that each named AWS managed policy is attached to it.
func checkRole(r *recording, arn, service string, policies []string) error {
	var role *rec
	for _, x := range r.ofType(tRole) {
		if str(x.State["arn"]) == arn {
			role = &x
		}
	}
	if role == nil {
		return fmt.Errorf("role %q is not declared by the program", arn)
	}
	services, actions, err := trust(str(role.Inputs["assumeRolePolicy"]))
	if err != nil {
		return fmt.Errorf("role %s: %w", role.Name, err)
	}
	if !slices.Equal(services, []string{service}) {
		return fmt.Errorf("role %s trusts %v, want only %s", role.Name, services, service)
	}
	if !slices.Contains(actions, "sts:AssumeRole") {
		return fmt.Errorf("role %s allows %v, want sts:AssumeRole", role.Name, actions)
	}
	var attached []string
	for _, a := range r.ofType(tAttachment) {
		if str(a.Inputs["role"]) == str(role.State["name"]) {
			arn := str(a.Inputs["policyArn"])
			if _, name, ok := strings.Cut(arn, ":iam::aws:policy/"); ok && strings.HasPrefix(arn, "arn:aws") {
				attached = append(attached, name)
			}
		}
	}
	for _, p := range policies {
		if !slices.Contains(attached, p) {
			return fmt.Errorf("role %s lacks %s (attached: %v)", role.Name, p, attached)
		}
	}
	return nil
}

// theCluster returns the one EKS cluster, or an error.
func theCluster(r *recording) (rec, error) {
	if err := checkOneCluster(r); err != nil {
		return rec{}, err
	}
	return r.ofType(tCluster)[0], nil
}

func list(v any) []any {
	s, _ := v.([]any)
	return s
}
