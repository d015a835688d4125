package picker

import (
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

// Defaults of VirtualNode loadBalancing and modelServer (see
// api/v1alpha1/loadbalancing_types.go, whose field comments state them).
const (
	DefaultPolicy               = v1.LoadBalancingRoundRobin
	DefaultQueueWeight          = 2
	DefaultKVCacheWeight        = 2
	DefaultInFlightTokensWeight = 1
	DefaultPrefixWeight         = 3
	DefaultQueueDepthThreshold  = 5
	DefaultKVCacheThresholdPct  = 90
	DefaultBlockBytes           = 256
	DefaultScrapeInterval       = 100 * time.Millisecond
	// StaleIntervals is how many scrape intervals old metrics may be
	// before the endpoint counts as saturated.
	StaleIntervals = 3
)

// Weights of the inference scorers.
type Weights struct {
	Queue, KVCache, InFlightTokens, Prefix float64
}

// Config is a node's picking configuration with every default applied.
type Config struct {
	Policy  v1.LoadBalancingPolicy
	Weights Weights
	// QueueThreshold and KVThreshold (0..1) mark an endpoint saturated.
	QueueThreshold float64
	KVThreshold    float64
	// BlockBytes and MaxBlocks size the prefix index.
	BlockBytes int
	MaxBlocks  int
	// StaleAfter is how old scraped metrics may be; 0 when the node's
	// engine is not scraped.
	StaleAfter time.Duration
}

// ConfigFrom applies the defaults to a node's loadBalancing and
// modelServer (either may be nil).
func ConfigFrom(lb *v1.LoadBalancing, ms *v1.ModelServer) Config {
	c := Config{
		Policy:         DefaultPolicy,
		Weights:        Weights{DefaultQueueWeight, DefaultKVCacheWeight, DefaultInFlightTokensWeight, DefaultPrefixWeight},
		QueueThreshold: DefaultQueueDepthThreshold,
		KVThreshold:    DefaultKVCacheThresholdPct / 100.0,
		BlockBytes:     DefaultBlockBytes,
		MaxBlocks:      prefix.DefaultMaxBlocks,
	}
	if lb != nil {
		if lb.Policy != "" {
			c.Policy = lb.Policy
		}
		if in := lb.Inference; in != nil {
			if w := in.Weights; w != nil {
				setF(&c.Weights.Queue, w.Queue)
				setF(&c.Weights.KVCache, w.KVCache)
				setF(&c.Weights.InFlightTokens, w.InFlightTokens)
				setF(&c.Weights.Prefix, w.Prefix)
			}
			setF(&c.QueueThreshold, in.QueueDepthThreshold)
			if in.KVCacheUsageThresholdPercent != nil {
				c.KVThreshold = float64(*in.KVCacheUsageThresholdPercent) / 100
			}
			if p := in.Prefix; p != nil {
				if p.BlockBytes != nil {
					c.BlockBytes = int(*p.BlockBytes)
				}
				if p.MaxBlocksPerEndpoint != nil {
					c.MaxBlocks = int(*p.MaxBlocksPerEndpoint)
				}
			}
		}
	}
	if ms != nil && ms.Engine != v1.EngineOpenAI {
		c.StaleAfter = StaleIntervals * ScrapeInterval(ms)
	}
	return c
}

// ScrapeInterval is a modelServer's scrape interval with its default.
func ScrapeInterval(ms *v1.ModelServer) time.Duration {
	if ms == nil || ms.ScrapeInterval == nil {
		return DefaultScrapeInterval
	}
	d := time.Duration(ms.ScrapeInterval.Value) * time.Second
	if ms.ScrapeInterval.Unit == v1.DurationUnitMS {
		d = time.Duration(ms.ScrapeInterval.Value) * time.Millisecond
	}
	if d <= 0 {
		return DefaultScrapeInterval
	}
	return d
}

func setF(dst *float64, v *int64) {
	if v != nil {
		*dst = float64(*v)
	}
}
