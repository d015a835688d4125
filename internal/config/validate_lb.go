package config

import (
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// aimesh's endpoint-picking enums.
var (
	lbPolicies    = []string{"roundRobin", "random", "leastRequest", "inference"}
	engineNames   = []string{"vllm", "sglang", "tgi", "openai"}
	criticalities = []string{"Critical", "Standard", "Sheddable"}
)

// Bounds of the picking settings (the CRD schema has the same).
const (
	maxWeight           = 100
	maxQueueThreshold   = 10000
	minBlockBytes       = 16
	maxBlockBytes       = 65536
	maxBlocksPerEP      = 1 << 20
	minScrapeInterval   = 10 * time.Millisecond
	maxScrapeInterval   = 60 * time.Second
	maxMetricsPathChars = 255
)

// picking checks a node's loadBalancing and modelServer (aimesh additions).
func (o *rep) picking(spec *field.Path, n *v1.VirtualNodeSpec) {
	o.loadBalancing(spec.Child("loadBalancing"), n.LoadBalancing)
	o.modelServer(spec.Child("modelServer"), n.ModelServer)
}

func (o *rep) loadBalancing(p *field.Path, lb *v1.LoadBalancing) {
	if lb == nil {
		return
	}
	policyOK := lb.Policy == "" || o.enum(p.Child("policy"), string(lb.Policy), lbPolicies)
	in := lb.Inference
	if in == nil {
		return
	}
	ip := p.Child("inference")
	if policyOK && lb.Policy != v1.LoadBalancingInference {
		o.errorf(ip, "only the inference policy reads these settings: set policy: inference, or remove them")
	}
	if w := in.Weights; w != nil {
		wp := ip.Child("weights")
		sum := int64(0)
		for _, x := range []struct {
			name string
			v    *int64
			def  int64
		}{{"queue", w.Queue, 2}, {"kvCache", w.KVCache, 2}, {"inFlightTokens", w.InFlightTokens, 1}, {"prefix", w.Prefix, 3}} {
			if x.v == nil {
				sum += x.def
				continue
			}
			if o.between(wp.Child(x.name), *x.v, 0, maxWeight) {
				sum += *x.v
			} else {
				sum++ // reported already
			}
		}
		if sum == 0 {
			o.errorf(wp, "every weight is 0: give at least one scorer a weight above 0")
		}
	}
	if in.QueueDepthThreshold != nil {
		o.between(ip.Child("queueDepthThreshold"), *in.QueueDepthThreshold, 1, maxQueueThreshold)
	}
	if in.KVCacheUsageThresholdPercent != nil {
		o.between(ip.Child("kvCacheUsageThresholdPercent"), *in.KVCacheUsageThresholdPercent, 1, 100)
	}
	if pa := in.Prefix; pa != nil {
		pp := ip.Child("prefix")
		if pa.BlockBytes != nil {
			o.between(pp.Child("blockBytes"), *pa.BlockBytes, minBlockBytes, maxBlockBytes)
		}
		if pa.MaxBlocksPerEndpoint != nil {
			o.between(pp.Child("maxBlocksPerEndpoint"), *pa.MaxBlocksPerEndpoint, 1, maxBlocksPerEP)
		}
	}
}

func (o *rep) modelServer(p *field.Path, ms *v1.ModelServer) {
	if ms == nil {
		return
	}
	engineOK := o.enum(p.Child("engine"), string(ms.Engine), engineNames)
	if engineOK && ms.Engine == v1.EngineOpenAI && (ms.MetricsPath != nil || ms.MetricsPort != nil || ms.ScrapeInterval != nil) {
		o.errorf(p, "engine openai is not scraped: remove metricsPath, metricsPort and scrapeInterval, or name the engine (vllm, sglang, tgi)")
	}
	if ms.MetricsPath != nil && o.length(p.Child("metricsPath"), *ms.MetricsPath, 1, maxMetricsPathChars) {
		o.pathPrefix(p.Child("metricsPath"), *ms.MetricsPath)
	}
	o.optPort(p.Child("metricsPort"), ms.MetricsPort)
	if d := ms.ScrapeInterval; d != nil && o.duration(p.Child("scrapeInterval"), *d) {
		got := time.Duration(d.Value) * time.Second
		if d.Unit == v1.DurationUnitMS {
			got = time.Duration(d.Value) * time.Millisecond
		}
		if got < minScrapeInterval || got > maxScrapeInterval {
			o.errorf(p.Child("scrapeInterval"), "must be between %s and %s, got %s", minScrapeInterval, maxScrapeInterval, got)
		}
	}
}

// criticality checks an httpRoute's criticality.
func (o *rep) criticality(p *field.Path, c *v1.Criticality) {
	if c != nil {
		o.enum(p, string(*c), criticalities)
	}
}
