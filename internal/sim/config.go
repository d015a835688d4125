package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config describes one simulated model server. Start from DefaultConfig and change what a test
// or a demo needs; NewServer validates it.
type Config struct {
	// Name identifies the server: it is sent in the X-Sim-Server response header and logged.
	// Default "sim".
	Name string
	// Version, when set, is sent in the X-Sim-Version response header (canary and weighted
	// routing tests tell versions apart by it). Default empty: no header.
	Version string
	// Model is the served model name (vLLM's --served-model-name) and the model_name label of
	// every metric. Requests for another name get 404. Default "sim-model".
	Model string
	// Aliases are further model names accepted by this server (reported by /v1/models).
	Aliases []string

	// MaxNumSeqs is the most requests running at once (vLLM --max-num-seqs); the rest wait in a
	// FIFO queue. Default 32.
	MaxNumSeqs int
	// KVBlocks is the number of KV-cache blocks (vLLM num_gpu_blocks). Default 2048.
	KVBlocks int
	// BlockSize is the number of tokens per KV-cache block (vLLM --block-size). Default 16.
	BlockSize int
	// MaxModelLen is the longest prompt+output in tokens (vLLM --max-model-len). Default 0:
	// min(8192, KVBlocks*BlockSize). It may not exceed KVBlocks*BlockSize.
	MaxModelLen int
	// DefaultMaxTokens is the output length of a request that sets neither max_tokens nor
	// max_completion_tokens. Default 32.
	DefaultMaxTokens int

	// PrefillOverhead is the fixed part of the time to first token. Default 20ms.
	PrefillOverhead time.Duration
	// PrefillPerToken is the prefill time per uncached prompt token. Default 100µs.
	PrefillPerToken time.Duration
	// ITLBase is the fixed part of the inter-token latency:
	// itl = ITLBase + ITLPerSeq × running requests. Default 10ms.
	ITLBase time.Duration
	// ITLPerSeq is what each running request adds to the inter-token latency. Default 500µs.
	ITLPerSeq time.Duration
	// TimeScale multiplies every simulated duration (prefill, inter-token latency, slow start)
	// so tests can run the model faster (0.1) or slower (10). Default 1.
	TimeScale float64

	// Faults are the faults injected from the start; they can be changed at run time with
	// Server.SetFaults or POST /sim/faults.
	Faults Faults
	// Seed seeds the random draws of fault rates, so a run is repeatable. Default 0 (a valid seed).
	Seed uint64
	// MaxBodyBytes bounds a request body; larger ones get 413. Default 8 MiB.
	MaxBodyBytes int64
	// LegacyMetrics also exports vllm:gpu_cache_usage_perc, the name vLLM used before
	// vllm:kv_cache_usage_perc. Default false.
	LegacyMetrics bool
	// Logger receives the server's logs. Default nil: logs are discarded.
	Logger *slog.Logger
}

// DefaultConfig returns a configuration shaped like a mid-sized model on one GPU: 32 running
// requests at most, 2048 blocks of 16 tokens, 20ms + 0.1ms/token prefill, 10ms + 0.5ms per
// running request between tokens, 32 output tokens by default, at real speed.
func DefaultConfig() Config {
	return Config{
		Name:             "sim",
		Model:            "sim-model",
		MaxNumSeqs:       32,
		KVBlocks:         2048,
		BlockSize:        16,
		DefaultMaxTokens: 32,
		PrefillOverhead:  20 * time.Millisecond,
		PrefillPerToken:  100 * time.Microsecond,
		ITLBase:          10 * time.Millisecond,
		ITLPerSeq:        500 * time.Microsecond,
		TimeScale:        1,
		MaxBodyBytes:     8 << 20,
	}
}

// withDefaults fills the zero fields that have a default and is called by NewServer.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.Model == "" {
		c.Model = d.Model
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.TimeScale == 0 {
		c.TimeScale = d.TimeScale
	}
	if c.MaxModelLen == 0 && c.KVBlocks > 0 && c.BlockSize > 0 {
		c.MaxModelLen = min(8192, c.KVBlocks*c.BlockSize)
	}
	c.Faults = c.Faults.normalized()
	return c
}

// Validate reports every field out of range, joined, after filling defaults as NewServer does.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sim config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.MaxNumSeqs < 1 {
		bad("MaxNumSeqs", "must be at least 1, got %d", c.MaxNumSeqs)
	}
	if c.KVBlocks < 1 {
		bad("KVBlocks", "must be at least 1, got %d", c.KVBlocks)
	}
	if c.BlockSize < 1 {
		bad("BlockSize", "must be at least 1, got %d", c.BlockSize)
	}
	if c.MaxModelLen < 2 {
		bad("MaxModelLen", "must be at least 2, got %d", c.MaxModelLen)
	} else if c.KVBlocks > 0 && c.BlockSize > 0 && c.MaxModelLen > c.KVBlocks*c.BlockSize {
		bad("MaxModelLen", "%d tokens do not fit in %d blocks of %d tokens", c.MaxModelLen, c.KVBlocks, c.BlockSize)
	}
	if c.DefaultMaxTokens < 1 {
		bad("DefaultMaxTokens", "must be at least 1, got %d", c.DefaultMaxTokens)
	}
	for name, d := range map[string]time.Duration{
		"PrefillOverhead": c.PrefillOverhead, "PrefillPerToken": c.PrefillPerToken,
		"ITLBase": c.ITLBase, "ITLPerSeq": c.ITLPerSeq,
	} {
		if d < 0 {
			bad(name, "must not be negative, got %s", d)
		}
	}
	if c.TimeScale <= 0 {
		bad("TimeScale", "must be positive, got %g", c.TimeScale)
	}
	if c.MaxBodyBytes < 1 {
		bad("MaxBodyBytes", "must be positive, got %d", c.MaxBodyBytes)
	}
	if err := c.Faults.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("sim config: Faults: %w", err))
	}
	return errors.Join(errs...)
}

// scale turns a simulated duration into a wall-clock one.
func (c *Config) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}

// ExpandNames turns a --model style value into one name per server: either a comma-separated
// list with exactly count entries, or one name in which "{i}" becomes the server's 0-based
// index (a name without "{i}" is used by every server: replicas of one model).
func ExpandNames(spec string, count int) ([]string, error) {
	if count < 1 {
		return nil, fmt.Errorf("expand names %q: count must be at least 1, got %d", spec, count)
	}
	out := make([]string, count)
	if strings.Contains(spec, ",") {
		parts := strings.Split(spec, ",")
		if len(parts) != count {
			return nil, fmt.Errorf("expand names %q: %d names for %d servers", spec, len(parts), count)
		}
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				return nil, fmt.Errorf("expand names %q: name %d is empty", spec, i)
			}
			out[i] = strings.ReplaceAll(p, "{i}", strconv.Itoa(i))
		}
		return out, nil
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("expand names: empty name")
	}
	for i := range out {
		out[i] = strings.ReplaceAll(spec, "{i}", strconv.Itoa(i))
	}
	return out, nil
}
