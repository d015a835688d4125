// Command eks is the Pulumi Go program that stands up an Amazon EKS cluster
// for AI APIs with aimesh installed: a VPC over several availability zones
// (nodes in private subnets behind NAT, the load balancer in public ones),
// the cluster and node IAM roles, one EKS cluster with a system and a GPU
// managed node group, the vpc-cni (prefix delegation on), coredns,
// kube-proxy and eks-pod-identity-agent addons, the NVIDIA device plugin,
// the aimesh Helm chart from deploy/chart/aimesh with its gateway behind an
// internet-facing NLB, a sample vLLM model server on the GPU nodes and the
// seed's mesh (ai-mesh, ai-virtual-node, ai-api-service.local,
// ai-virtual-router, ai-gateway, ai-api-route) as aimesh.io/v1alpha1
// resources.
//
// The program is the function Deploy over a Config: main reads the Config
// from the stack's configuration (LoadConfig) and exports what Deploy
// returns. Tests run Deploy under Pulumi mocks, record every resource and
// check the recording; they also run deliberately broken variants (through
// the Tweak hook, which production leaves nil) to prove that each check
// notices what it guards. docs/eks.md is the user guide.
package main
