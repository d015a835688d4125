package config

import (
	"slices"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

func TestValidatePicking(t *testing.T) {
	inference := func(in *v1.InferenceLoadBalancing) *v1.LoadBalancing {
		return &v1.LoadBalancing{Policy: v1.LoadBalancingInference, Inference: in}
	}
	tests := []struct {
		name   string
		mutate func(r *Resources)
		want   []string
	}{
		{
			name: "every setting at its bounds",
			mutate: func(r *Resources) {
				node(r).Spec.LoadBalancing = inference(&v1.InferenceLoadBalancing{
					Weights:             &v1.InferenceWeights{Queue: ptr(int64(0)), KVCache: ptr(int64(100)), InFlightTokens: ptr(int64(0)), Prefix: ptr(int64(0))},
					QueueDepthThreshold: ptr(int64(1)), KVCacheUsageThresholdPercent: ptr(int64(100)),
					Prefix: &v1.PrefixAffinity{BlockBytes: ptr(int64(16)), MaxBlocksPerEndpoint: ptr(int64(1 << 20))},
				})
				node(r).Spec.ModelServer = &v1.ModelServer{Engine: v1.EngineVLLM, MetricsPath: ptr("/metrics"),
					MetricsPort: ptr(v1.PortNumber(9090)), ScrapeInterval: &v1.Duration{Value: 10, Unit: "ms"}}
				route(r).Criticality = ptr(v1.CriticalitySheddable)
			},
		},
		{
			name: "policies without settings",
			mutate: func(r *Resources) {
				node(r).Spec.LoadBalancing = &v1.LoadBalancing{Policy: v1.LoadBalancingLeastRequest}
			},
		},
		{
			name:   "empty loadBalancing is round robin",
			mutate: func(r *Resources) { node(r).Spec.LoadBalancing = &v1.LoadBalancing{} },
		},
		{
			name:   "unknown policy",
			mutate: func(r *Resources) { node(r).Spec.LoadBalancing = &v1.LoadBalancing{Policy: "fastest"} },
			want:   []string{`VirtualNode/vllm: spec.loadBalancing.policy: must be one of roundRobin, random, leastRequest, inference, got "fastest"`},
		},
		{
			name: "inference settings with another policy",
			mutate: func(r *Resources) {
				node(r).Spec.LoadBalancing = &v1.LoadBalancing{Policy: v1.LoadBalancingRandom, Inference: &v1.InferenceLoadBalancing{}}
			},
			want: []string{"VirtualNode/vllm: spec.loadBalancing.inference: only the inference policy reads these settings: set policy: inference, or remove them"},
		},
		{
			name: "out of range",
			mutate: func(r *Resources) {
				node(r).Spec.LoadBalancing = inference(&v1.InferenceLoadBalancing{
					Weights:             &v1.InferenceWeights{Prefix: ptr(int64(101))},
					QueueDepthThreshold: ptr(int64(0)), KVCacheUsageThresholdPercent: ptr(int64(101)),
					Prefix: &v1.PrefixAffinity{BlockBytes: ptr(int64(8)), MaxBlocksPerEndpoint: ptr(int64(0))},
				})
			},
			want: []string{
				"VirtualNode/vllm: spec.loadBalancing.inference.weights.prefix: must be between 0 and 100, got 101",
				"VirtualNode/vllm: spec.loadBalancing.inference.queueDepthThreshold: must be between 1 and 10000, got 0",
				"VirtualNode/vllm: spec.loadBalancing.inference.kvCacheUsageThresholdPercent: must be between 1 and 100, got 101",
				"VirtualNode/vllm: spec.loadBalancing.inference.prefix.blockBytes: must be between 16 and 65536, got 8",
				"VirtualNode/vllm: spec.loadBalancing.inference.prefix.maxBlocksPerEndpoint: must be between 1 and 1048576, got 0",
			},
		},
		{
			name: "every weight zero",
			mutate: func(r *Resources) {
				z := ptr(int64(0))
				node(r).Spec.LoadBalancing = inference(&v1.InferenceLoadBalancing{Weights: &v1.InferenceWeights{Queue: z, KVCache: z, InFlightTokens: z, Prefix: z}})
			},
			want: []string{"VirtualNode/vllm: spec.loadBalancing.inference.weights: every weight is 0: give at least one scorer a weight above 0"},
		},
		{
			name: "omitted weights keep their defaults",
			mutate: func(r *Resources) {
				z := ptr(int64(0))
				node(r).Spec.LoadBalancing = inference(&v1.InferenceLoadBalancing{Weights: &v1.InferenceWeights{Queue: z, KVCache: z}})
			},
		},
		{
			name:   "model server engine required",
			mutate: func(r *Resources) { node(r).Spec.ModelServer = &v1.ModelServer{} },
			want:   []string{"VirtualNode/vllm: spec.modelServer.engine: required: one of vllm, sglang, tgi, openai"},
		},
		{
			name: "model server fields out of range",
			mutate: func(r *Resources) {
				node(r).Spec.ModelServer = &v1.ModelServer{Engine: "triton", MetricsPath: ptr("metrics"),
					MetricsPort: ptr(v1.PortNumber(0)), ScrapeInterval: &v1.Duration{Value: 61, Unit: "s"}}
			},
			want: []string{
				`VirtualNode/vllm: spec.modelServer.engine: must be one of vllm, sglang, tgi, openai, got "triton"`,
				`VirtualNode/vllm: spec.modelServer.metricsPath: must start with "/", got "metrics"`,
				"VirtualNode/vllm: spec.modelServer.metricsPort: must be between 1 and 65535, got 0",
				"VirtualNode/vllm: spec.modelServer.scrapeInterval: must be between 10ms and 1m0s, got 1m1s",
			},
		},
		{
			name: "scrape interval too short",
			mutate: func(r *Resources) {
				node(r).Spec.ModelServer = &v1.ModelServer{Engine: v1.EngineSGLang, ScrapeInterval: &v1.Duration{Value: 5, Unit: "ms"}}
			},
			want: []string{"VirtualNode/vllm: spec.modelServer.scrapeInterval: must be between 10ms and 1m0s, got 5ms"},
		},
		{
			name: "openai is not scraped",
			mutate: func(r *Resources) {
				node(r).Spec.ModelServer = &v1.ModelServer{Engine: v1.EngineOpenAI, MetricsPath: ptr("/metrics")}
			},
			want: []string{"VirtualNode/vllm: spec.modelServer: engine openai is not scraped: remove metricsPath, metricsPort and scrapeInterval, or name the engine (vllm, sglang, tgi)"},
		},
		{
			name:   "criticality enum",
			mutate: func(r *Resources) { route(r).Criticality = ptr(v1.Criticality("Low")) },
			want:   []string{`VirtualRouter/router: spec.routes[0].httpRoute.criticality: must be one of Critical, Standard, Sheddable, got "Low"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decodeBase(t)
			tt.mutate(r)
			got := problems(Validate(r, Options{}))
			want := slices.Clone(tt.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Validate:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func TestDecodePickingFields(t *testing.T) {
	doc := `apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: vllm}
spec:
  loadBalancing:
    policy: inference
    inference:
      weights: {queue: 2, kvCache: 2, inFlightTokens: 1, prefix: 3}
      queueDepthThreshold: 5
      kvCacheUsageThresholdPercent: 90
      prefix: {blockBytes: 256, maxBlocksPerEndpoint: 16384}
  modelServer:
    engine: vllm
    metricsPath: /metrics
    scrapeInterval: {value: 100, unit: ms}
`
	r, errs := Decode("node.yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	n := r.VirtualNodes[0].Spec
	if n.LoadBalancing.Policy != v1.LoadBalancingInference || *n.LoadBalancing.Inference.Weights.Prefix != 3 ||
		*n.LoadBalancing.Inference.Prefix.BlockBytes != 256 || n.ModelServer.Engine != v1.EngineVLLM || n.ModelServer.ScrapeInterval.Value != 100 {
		t.Fatalf("decoded %+v", n)
	}
}
