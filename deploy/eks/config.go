package main

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Config is everything the program reads from the stack configuration
// (namespace aimesh-eks; `pulumi config set KEY VALUE`). Each field names
// its key and default; Pulumi.yaml and docs/eks.md list the same.
type Config struct {
	// region: AWS region for every resource. Default us-west-2.
	Region string
	// clusterName: the EKS cluster's name. Default ai-api-cluster.
	ClusterName string
	// kubernetesVersion: EKS Kubernetes version. Default 1.34.
	KubernetesVersion string

	// vpcCidr: the VPC's IPv4 block, /16 to /18. Default 10.0.0.0/16.
	VpcCidr string
	// azCount: availability zones used, 2 to 4. Default 3.
	AZCount int
	// natPerAz: one NAT gateway per zone (true) or one for the VPC
	// (false, cheaper, a single zone's outage cuts node egress). Default false.
	NATPerAZ bool
	// apiPublicCidrs: CIDRs allowed to reach the public Kubernetes API
	// endpoint. Default ["0.0.0.0/0"].
	APIPublicCIDRs []string

	// systemInstanceType, systemNodeMin/Desired/Max, systemDiskSize: the
	// node group for the mesh gateway, coredns and the device plugin.
	// Defaults m6i.large, 2/2/4, 50 GiB.
	System NodePool
	// gpuInstanceType, gpuNodeMin/Desired/Max, gpuDiskSize,
	// gpuCapacityType: the GPU node group (NVIDIA AMI, tainted
	// nvidia.com/gpu). Defaults g6.xlarge, 0/1/2, 200 GiB, ON_DEMAND.
	GPU NodePool

	// addonVersions: map of EKS addon name to version; an addon left out
	// gets EKS's default version for the cluster version. Default {}.
	AddonVersions map[string]string
	// nvidiaDevicePluginVersion: version of the NVIDIA device plugin chart
	// (https://nvidia.github.io/k8s-device-plugin). Default 0.17.1.
	NvidiaDevicePluginVersion string

	// modelNamespace: namespace of the model server and the mesh
	// resources. Default ai.
	ModelNamespace string
	// modelServerImage: the vLLM OpenAI server image.
	// Default vllm/vllm-openai:v0.11.0.
	ModelServerImage string
	// model: Hugging Face model id vLLM loads.
	// Default meta-llama/Llama-3.1-8B-Instruct (gated: set hfToken).
	Model string
	// servedModelName: the model name clients send and the mesh routes on.
	// Default llama-3.1-8b-instruct.
	ServedModelName string
	// maxModelLen: vLLM --max-model-len. Default 8192.
	MaxModelLen int
	// modelServerReplicas: vLLM replicas, one GPU each. Default 1.
	ModelServerReplicas int
	// hfToken (secret): Hugging Face token for gated models. Default unset.
	HFToken string

	// aimeshNamespace: namespace of the aimesh release. Default aimesh-system.
	AimeshNamespace string
	// aimeshChart: path of the aimesh chart, relative to deploy/eks.
	// Default ../chart/aimesh.
	AimeshChart string
	// aimeshReplicas: gateway replicas (chart replicaCount). Default 2.
	AimeshReplicas int
	// aimeshImageRepository, aimeshImageTag: the aimesh image; empty keeps
	// the chart's default. Default "" and "".
	AimeshImageRepository string
	AimeshImageTag        string
	// gatewayPort: the gateway listener and Service port. Default 8080.
	GatewayPort int
	// gatewayServiceName: name of the chart's gateway Service, read back
	// for the gateway_url export. Default aimesh-gateway.
	GatewayServiceName string
	// aimeshValues: extra chart values, merged over the ones this program
	// sets (maps merge key by key, anything else replaces). Default {}.
	AimeshValues map[string]any
}

// NodePool sizes one managed node group.
type NodePool struct {
	InstanceType string
	Min          int
	Desired      int
	Max          int
	DiskSize     int
	CapacityType string // ON_DEMAND or SPOT
}

// DefaultConfig is the configuration of a stack that sets no keys.
func DefaultConfig() Config {
	return Config{
		Region:            "us-west-2",
		ClusterName:       "ai-api-cluster",
		KubernetesVersion: "1.34",
		VpcCidr:           "10.0.0.0/16",
		AZCount:           3,
		APIPublicCIDRs:    []string{"0.0.0.0/0"},
		System: NodePool{InstanceType: "m6i.large", Min: 2, Desired: 2, Max: 4,
			DiskSize: 50, CapacityType: "ON_DEMAND"},
		GPU: NodePool{InstanceType: "g6.xlarge", Min: 0, Desired: 1, Max: 2,
			DiskSize: 200, CapacityType: "ON_DEMAND"},
		AddonVersions:             map[string]string{},
		NvidiaDevicePluginVersion: "0.17.1",
		ModelNamespace:            "ai",
		ModelServerImage:          "vllm/vllm-openai:v0.11.0",
		Model:                     "meta-llama/Llama-3.1-8B-Instruct",
		ServedModelName:           "llama-3.1-8b-instruct",
		MaxModelLen:               8192,
		ModelServerReplicas:       1,
		AimeshNamespace:           "aimesh-system",
		AimeshChart:               "../chart/aimesh",
		AimeshReplicas:            2,
		GatewayPort:               8080,
		GatewayServiceName:        "aimesh-gateway",
		AimeshValues:              map[string]any{},
	}
}

// LoadConfig reads the stack configuration over DefaultConfig and
// validates the result.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := reader{c: config.New(ctx, "")}
	d := DefaultConfig()
	cfg := Config{
		Region:            r.str("region", d.Region),
		ClusterName:       r.str("clusterName", d.ClusterName),
		KubernetesVersion: r.str("kubernetesVersion", d.KubernetesVersion),
		VpcCidr:           r.str("vpcCidr", d.VpcCidr),
		AZCount:           r.integer("azCount", d.AZCount),
		NATPerAZ:          r.boolean("natPerAz", d.NATPerAZ),
		APIPublicCIDRs:    d.APIPublicCIDRs,
		System: NodePool{
			InstanceType: r.str("systemInstanceType", d.System.InstanceType),
			Min:          r.integer("systemNodeMin", d.System.Min),
			Desired:      r.integer("systemNodeDesired", d.System.Desired),
			Max:          r.integer("systemNodeMax", d.System.Max),
			DiskSize:     r.integer("systemDiskSize", d.System.DiskSize),
			CapacityType: d.System.CapacityType,
		},
		GPU: NodePool{
			InstanceType: r.str("gpuInstanceType", d.GPU.InstanceType),
			Min:          r.integer("gpuNodeMin", d.GPU.Min),
			Desired:      r.integer("gpuNodeDesired", d.GPU.Desired),
			Max:          r.integer("gpuNodeMax", d.GPU.Max),
			DiskSize:     r.integer("gpuDiskSize", d.GPU.DiskSize),
			CapacityType: r.str("gpuCapacityType", d.GPU.CapacityType),
		},
		AddonVersions:             d.AddonVersions,
		NvidiaDevicePluginVersion: r.str("nvidiaDevicePluginVersion", d.NvidiaDevicePluginVersion),
		ModelNamespace:            r.str("modelNamespace", d.ModelNamespace),
		ModelServerImage:          r.str("modelServerImage", d.ModelServerImage),
		Model:                     r.str("model", d.Model),
		ServedModelName:           r.str("servedModelName", d.ServedModelName),
		MaxModelLen:               r.integer("maxModelLen", d.MaxModelLen),
		ModelServerReplicas:       r.integer("modelServerReplicas", d.ModelServerReplicas),
		HFToken:                   r.str("hfToken", ""),
		AimeshNamespace:           r.str("aimeshNamespace", d.AimeshNamespace),
		AimeshChart:               r.str("aimeshChart", d.AimeshChart),
		AimeshReplicas:            r.integer("aimeshReplicas", d.AimeshReplicas),
		AimeshImageRepository:     r.str("aimeshImageRepository", ""),
		AimeshImageTag:            r.str("aimeshImageTag", ""),
		GatewayPort:               r.integer("gatewayPort", d.GatewayPort),
		GatewayServiceName:        r.str("gatewayServiceName", d.GatewayServiceName),
		AimeshValues:              d.AimeshValues,
	}
	r.object("apiPublicCidrs", &cfg.APIPublicCIDRs)
	r.object("addonVersions", &cfg.AddonVersions)
	r.object("aimeshValues", &cfg.AimeshValues)
	if len(r.errs) > 0 {
		return Config{}, errors.Join(r.errs...)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// reader reads keys with defaults and collects every parse error, so one
// `pulumi up` reports all bad keys at once.
type reader struct {
	c    *config.Config
	errs []error
}

func (r *reader) str(key, def string) string {
	if v := r.c.Get(key); v != "" {
		return v
	}
	return def
}

func (r *reader) integer(key string, def int) int {
	v := r.c.Get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("config %s: %w", key, err))
		return def
	}
	return n
}

func (r *reader) boolean(key string, def bool) bool {
	v := r.c.Get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("config %s: %w", key, err))
		return def
	}
	return b
}

func (r *reader) object(key string, out any) {
	if err := r.c.GetObject(key, out); err != nil {
		r.errs = append(r.errs, fmt.Errorf("config %s: %w", key, err))
	}
}

var clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)

// Validate reports every value the program cannot build a working stack
// from, naming the config key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config %s: "+format, append([]any{key}, args...)...))
	}
	if c.Region == "" {
		bad("region", "must be set")
	}
	if !clusterNameRE.MatchString(c.ClusterName) {
		bad("clusterName", "%q is not a valid EKS cluster name", c.ClusterName)
	}
	if p, err := netip.ParsePrefix(c.VpcCidr); err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 18 {
		bad("vpcCidr", "%q must be an IPv4 block from /16 to /18", c.VpcCidr)
	}
	if len(c.APIPublicCIDRs) == 0 {
		bad("apiPublicCidrs", "must list at least one CIDR (the API endpoint is public)")
	}
	for _, cidr := range c.APIPublicCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			bad("apiPublicCidrs", "%q: %w", cidr, err)
		}
	}
	if c.AZCount < 2 || c.AZCount > 4 {
		bad("azCount", "%d must be 2 to 4 (EKS needs two zones)", c.AZCount)
	}
	for _, p := range []struct {
		key  string // key prefix: system or gpu
		pool NodePool
		min  int // the system pool must keep a node for coredns
	}{{"system", c.System, 1}, {"gpu", c.GPU, 0}} {
		if p.pool.InstanceType == "" {
			bad(p.key+"InstanceType", "must be set")
		}
		if p.pool.Min < p.min || p.pool.Min > p.pool.Desired || p.pool.Desired > p.pool.Max || p.pool.Max < 1 {
			bad(p.key+"NodeMin/Desired/Max", "need %d <= min <= desired <= max, max >= 1; got %d/%d/%d",
				p.min, p.pool.Min, p.pool.Desired, p.pool.Max)
		}
		if p.pool.DiskSize < 20 {
			bad(p.key+"DiskSize", "%d GiB is too small for container images", p.pool.DiskSize)
		}
		if p.pool.CapacityType != "ON_DEMAND" && p.pool.CapacityType != "SPOT" {
			bad(p.key+"CapacityType", "%q must be ON_DEMAND or SPOT", p.pool.CapacityType)
		}
	}
	if c.ModelServerReplicas < 0 {
		bad("modelServerReplicas", "%d must not be negative", c.ModelServerReplicas)
	}
	if c.MaxModelLen < 1 {
		bad("maxModelLen", "%d must be positive", c.MaxModelLen)
	}
	if c.AimeshReplicas < 1 {
		bad("aimeshReplicas", "%d must be at least 1", c.AimeshReplicas)
	}
	if c.GatewayPort < 1 || c.GatewayPort > 65535 {
		bad("gatewayPort", "%d is not a port", c.GatewayPort)
	}
	for _, kv := range [][2]string{
		{"kubernetesVersion", c.KubernetesVersion}, {"modelNamespace", c.ModelNamespace},
		{"modelServerImage", c.ModelServerImage}, {"model", c.Model},
		{"servedModelName", c.ServedModelName}, {"aimeshNamespace", c.AimeshNamespace},
		{"aimeshChart", c.AimeshChart}, {"gatewayServiceName", c.GatewayServiceName},
		{"nvidiaDevicePluginVersion", c.NvidiaDevicePluginVersion},
	} {
		if kv[1] == "" {
			bad(kv[0], "must not be empty")
		}
	}
	return errors.Join(errs...)
}
