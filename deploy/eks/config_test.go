package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// loadConfig runs LoadConfig under mocks with the given stack config.
func loadConfig(t *testing.T, kv map[string]string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, loadErr = LoadConfig(ctx)
		return nil
	}, pulumi.WithMocks(project, "test", &recorder{}), withConfig(kv))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, loadErr
}

// projectDefaults reads Pulumi.yaml, validated by Pulumi's own schema, and
// returns its config defaults as stack config strings.
func projectDefaults(t *testing.T) map[string]string {
	t.Helper()
	proj, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatalf("Pulumi.yaml: %v", err)
	}
	if string(proj.Name) != project || proj.Runtime.Name() != "go" {
		t.Fatalf("Pulumi.yaml: project %s runtime %s, want %s on go", proj.Name, proj.Runtime.Name(), project)
	}
	out := map[string]string{}
	for key, typ := range proj.Config {
		switch v := typ.Default.(type) {
		case string:
			out[key] = v
		case nil:
			t.Errorf("Pulumi.yaml: config %s has no default", key)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = string(b)
		}
	}
	return out
}

func TestPulumiYAMLDefaultsAreTheProgramDefaults(t *testing.T) {
	defaults := projectDefaults(t)
	got, err := loadConfig(t, defaults)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("Pulumi.yaml defaults give\n%+v\nthe program's defaults are\n%+v", got, want)
	}
	if got, err := loadConfig(t, nil); err != nil || !reflect.DeepEqual(got, DefaultConfig()) {
		t.Errorf("an empty stack config gives %+v, %v; want DefaultConfig", got, err)
	}
}

// TestEveryKeyIsReadAndDocumented sets each key of Pulumi.yaml to a value
// other than its default and checks that the config changes, and that
// docs/eks.md documents the key.
func TestEveryKeyIsReadAndDocumented(t *testing.T) {
	others := map[string]string{
		"region": "eu-west-1", "clusterName": "other", "kubernetesVersion": "1.33",
		"vpcCidr": "10.8.0.0/16", "azCount": "2", "natPerAz": "true", "apiPublicCidrs": `["203.0.113.0/24"]`,
		"systemInstanceType": "m7i.large", "systemNodeMin": "1", "systemNodeDesired": "3", "systemNodeMax": "5",
		"systemDiskSize": "80", "gpuInstanceType": "g5.xlarge", "gpuNodeMin": "1", "gpuNodeDesired": "2",
		"gpuNodeMax": "3", "gpuDiskSize": "300", "gpuCapacityType": "SPOT",
		"addonVersions": `{"vpc-cni":"v1.20.0-eksbuild.1"}`, "nvidiaDevicePluginVersion": "0.17.2",
		"modelNamespace": "models", "modelServerImage": "vllm/vllm-openai:v0.10.2", "model": "Qwen/Qwen2.5-7B-Instruct",
		"servedModelName": "qwen2.5-7b-instruct", "maxModelLen": "4096", "modelServerReplicas": "2", "hfToken": "hf_x",
		"aimeshNamespace": "mesh", "aimeshChart": "../chart/aimesh-dev", "aimeshReplicas": "3",
		"aimeshImageRepository": "123456789012.dkr.ecr.us-west-2.amazonaws.com/aimesh", "aimeshImageTag": "dev",
		"gatewayPort": "9090", "gatewayServiceName": "gw", "aimeshValues": `{"logLevel":"debug"}`,
	}
	declared := projectDefaults(t)
	docs, err := os.ReadFile("../../docs/eks.md")
	if err != nil {
		t.Fatalf("docs/eks.md: %v", err)
	}
	for key := range declared {
		v, ok := others[key]
		if !ok {
			t.Errorf("no test value for config key %s", key)
			continue
		}
		cfg, err := loadConfig(t, map[string]string{key: v})
		if err != nil {
			t.Errorf("%s=%s: %v", key, v, err)
		} else if reflect.DeepEqual(cfg, DefaultConfig()) {
			t.Errorf("setting %s=%s does not change the config: the program does not read it", key, v)
		}
		if !strings.Contains(string(docs), "`"+key+"`") {
			t.Errorf("docs/eks.md does not document config key %s", key)
		}
	}
	for key := range others {
		if _, ok := declared[key]; !ok {
			t.Errorf("config key %s is not declared in Pulumi.yaml", key)
		}
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for key, v := range map[string]string{
		"azCount": "1", "vpcCidr": "10.0.0.0/8", "clusterName": "-bad", "systemNodeMin": "0",
		"gpuNodeDesired": "9", "gpuCapacityType": "RESERVED", "gatewayPort": "70000", "maxModelLen": "x",
		"natPerAz": "maybe", "addonVersions": "[1]", "systemDiskSize": "8", "apiPublicCidrs": `["10.0.0.300/32"]`,
	} {
		if _, err := loadConfig(t, map[string]string{key: v}); err == nil {
			t.Errorf("%s=%s accepted", key, v)
		} else if !strings.Contains(err.Error(), key) && !strings.Contains(err.Error(), strings.TrimSuffix(key, "Desired")) {
			t.Errorf("%s=%s: error %q does not name the key", key, v, err)
		}
	}
}

func TestSubnetCIDRs(t *testing.T) {
	for _, tc := range []struct {
		vpc     string
		private []string
		public  []string
	}{
		{"10.0.0.0/16", []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19", "10.0.96.0/19"},
			[]string{"10.0.128.0/22", "10.0.132.0/22", "10.0.136.0/22", "10.0.140.0/22"}},
		{"172.20.64.0/18", []string{"172.20.64.0/21", "172.20.72.0/21", "172.20.80.0/21", "172.20.88.0/21"},
			[]string{"172.20.96.0/24", "172.20.97.0/24", "172.20.98.0/24", "172.20.99.0/24"}},
	} {
		var priv, pub []string
		for i := range 4 {
			p, err := privateSubnetCIDR(tc.vpc, i)
			if err != nil {
				t.Fatal(err)
			}
			q, err := publicSubnetCIDR(tc.vpc, i)
			if err != nil {
				t.Fatal(err)
			}
			priv, pub = append(priv, p), append(pub, q)
		}
		if !slices.Equal(priv, tc.private) || !slices.Equal(pub, tc.public) {
			t.Errorf("%s: private %v public %v, want %v %v", tc.vpc, priv, pub, tc.private, tc.public)
		}
	}
	for _, bad := range []struct {
		base          string
		newBits, indx int
	}{{"10.0.0.0/30", 3, 0}, {"10.0.0.0/16", 3, 8}, {"::/64", 3, 0}, {"nope", 3, 0}} {
		if got, err := subnetCIDR(bad.base, bad.newBits, bad.indx); err == nil {
			t.Errorf("subnetCIDR(%v) = %s, want an error", bad, got)
		}
	}
}

func TestMergeValues(t *testing.T) {
	base := map[string]any{"a": 1, "gateway": map[string]any{"port": 8080, "service": map[string]any{"type": "LoadBalancer"}}}
	got := mergeValues(base, map[string]any{"b": 2, "gateway": map[string]any{"service": map[string]any{"type": "ClusterIP"}}})
	want := map[string]any{"a": 1, "b": 2, "gateway": map[string]any{"port": 8080, "service": map[string]any{"type": "ClusterIP"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
	if fmt.Sprint(base["gateway"]) != "map[port:8080 service:map[type:LoadBalancer]]" {
		t.Errorf("merge modified its base: %v", base)
	}
}
