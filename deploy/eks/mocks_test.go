package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// project is the Pulumi project name; config keys live under it.
const project = "aimesh-eks"

// mockHostname is the NLB hostname the mocked gateway Service reports.
const mockHostname = "k8s-aimeshsy-aimeshga-0123456789.elb.us-west-2.amazonaws.com"

// rec is one resource the program declared (or read), as the engine saw it.
type rec struct {
	Type, Name, ID, Provider string
	Read                     bool
	Inputs, State            map[string]any
}

// call is one provider function the program invoked.
type call struct {
	Token, Provider string
}

// export is one resolved stack output.
type export struct {
	Value  any
	Secret bool
}

// recording is everything one run of the program declared.
type recording struct {
	Resources []rec
	Calls     []call
	Exports   map[string]export
}

// recorder is the Pulumi mock: it answers every registration with the
// inputs plus the outputs a real provider would compute, and records it.
type recorder struct {
	mu  sync.Mutex
	rec recording
}

func (m *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs := plainMap(args.Inputs)
	state := map[string]any{}
	for k, v := range inputs {
		state[k] = v
	}
	id := args.Name + "-id"
	if args.ID != "" {
		id = args.ID
	}
	name, _ := inputs["name"].(string)
	if name == "" {
		name = args.Name
	}
	switch args.TypeToken {
	case "aws:iam/role:Role":
		state["name"] = name
		state["arn"] = "arn:aws:iam::123456789012:role/" + name
	case "aws:eks/cluster:Cluster":
		state["name"] = name
		state["arn"] = "arn:aws:eks:us-west-2:123456789012:cluster/" + name
		state["endpoint"] = "https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com"
		state["certificateAuthority"] = map[string]any{"data": "LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0t"}
	case "kubernetes:core/v1:Service":
		if args.ID != "" { // the chart's gateway Service, read back
			ns, n, _ := strings.Cut(args.ID, "/")
			state["metadata"] = map[string]any{"name": n, "namespace": ns}
			state["spec"] = map[string]any{"type": "LoadBalancer",
				"ports": []any{map[string]any{"name": "http", "port": 8080}}}
			state["status"] = map[string]any{"loadBalancer": map[string]any{
				"ingress": []any{map[string]any{"hostname": mockHostname}}}}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rec.Resources = append(m.rec.Resources, rec{
		Type: args.TypeToken, Name: args.Name, ID: id, Provider: args.Provider,
		Read: args.ID != "", Inputs: inputs, State: state,
	})
	return id, resource.NewPropertyMapFromMap(state), nil
}

func (m *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.rec.Calls = append(m.rec.Calls, call{Token: args.Token, Provider: args.Provider})
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id":      "us-west-2",
			"names":   []string{"us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"},
			"zoneIds": []string{"usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"},
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com",
		}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// plain turns a property value into plain Go values (maps, slices,
// strings, float64, bool, nil), looking through secrets and outputs.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		if o := v.OutputValue(); o.Known {
			return plain(o.Element)
		}
		return nil
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsResourceReference():
		return v.ResourceReferenceValue().URN
	}
	return v.V
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[string(k)] = plain(v)
	}
	return out
}

// withConfig sets stack configuration for a mocked run.
func withConfig(kv map[string]string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		if info.Config == nil {
			info.Config = map[string]string{}
		}
		for k, v := range kv {
			info.Config[project+":"+k] = v
		}
	}
}

// runDeploy runs Deploy under mocks, with tweak and then extra (both
// optional: they break the program on purpose), and returns what it
// declared and exported.
func runDeploy(t *testing.T, cfg Config, tweak Tweak, extra func(*pulumi.Context) error) *recording {
	t.Helper()
	m := &recorder{}
	var exports Exports
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		if exports, err = Deploy(ctx, cfg, tweak); err != nil {
			return err
		}
		if extra != nil {
			return extra(ctx)
		}
		return nil
	}, pulumi.WithMocks(project, "test", m))
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	m.rec.Exports = map[string]export{}
	for name, out := range exports {
		res, err := internals.UnsafeAwaitOutput(context.Background(), out)
		if err != nil {
			t.Fatalf("export %s: %v", name, err)
		}
		m.rec.Exports[name] = export{Value: res.Value, Secret: res.Secret}
	}
	return &m.rec
}
