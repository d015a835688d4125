package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/aimesh/aimesh/internal/sim"
)

// cmdSim runs `aimesh sim`: one or more simulated OpenAI-compatible model servers (vLLM-like)
// on consecutive ports until ctx is done. It prints one line per server: name, model, URL.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	d := sim.DefaultConfig()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aimesh sim [flags]\n\nServe simulated OpenAI-compatible model servers (vLLM-like) on consecutive ports.\n\nflags:")
		fs.PrintDefaults()
	}
	var (
		host      = fs.String("host", "127.0.0.1", "host to listen on")
		port      = fs.Int("port", 8000, "port of the first server; server i listens on port+i (0: a free port each)")
		addr      = fs.String("addr", "", "host:port of the first server (overrides --host and --port)")
		count     = fs.Int("count", 1, "number of servers, each with its own state")
		model     = fs.String("model", d.Model, "served model name: one name for all, a comma list (one per server), or a pattern where {i} is the server index")
		name      = fs.String("name", "sim-{i}", "server name sent in the X-Sim-Server header: comma list or {i} pattern")
		version   = fs.String("version", "", "version sent in the X-Sim-Version header: comma list or {i} pattern (empty: no header)")
		logLevel  = fs.String("log-level", "info", "log level: debug, info, warn, error")
		timeScale = fs.Float64("time-scale", d.TimeScale, "multiplies every simulated duration (0.1 runs ten times faster)")
		seed      = fs.Uint64("seed", 0, "seed of the fault draws; server i uses seed+i")
		cfg       = d
	)
	fs.IntVar(&cfg.MaxNumSeqs, "max-num-seqs", d.MaxNumSeqs, "most requests running at once per server; the rest wait in a FIFO queue")
	fs.IntVar(&cfg.KVBlocks, "kv-blocks", d.KVBlocks, "KV-cache blocks per server")
	fs.IntVar(&cfg.BlockSize, "block-size", d.BlockSize, "tokens per KV-cache block")
	fs.IntVar(&cfg.MaxModelLen, "max-model-len", 0, "longest prompt+output in tokens (0: min(8192, kv-blocks*block-size))")
	fs.IntVar(&cfg.DefaultMaxTokens, "output-tokens", d.DefaultMaxTokens, "output tokens of a request that sets no max_tokens")
	fs.DurationVar(&cfg.PrefillOverhead, "prefill", d.PrefillOverhead, "fixed prefill time (time to first token without queueing or prompt)")
	fs.DurationVar(&cfg.PrefillPerToken, "prefill-per-token", d.PrefillPerToken, "prefill time per uncached prompt token")
	fs.DurationVar(&cfg.ITLBase, "itl", d.ITLBase, "inter-token latency base: itl = itl + itl-per-seq * running")
	fs.DurationVar(&cfg.ITLPerSeq, "itl-per-seq", d.ITLPerSeq, "inter-token latency added per running request")
	fs.BoolVar(&cfg.LegacyMetrics, "legacy-metrics", false, "also export vllm:gpu_cache_usage_perc")
	fs.Float64Var(&cfg.Faults.ErrorRate, "error-rate", 0, "fault: fraction of requests answered with --error-status")
	fs.IntVar(&cfg.Faults.ErrorStatus, "error-status", 500, "fault: status of injected errors (429 and 503 carry Retry-After)")
	fs.IntVar(&cfg.Faults.RetryAfterSeconds, "retry-after", 1, "fault: Retry-After seconds of injected 429 and 503")
	fs.Float64Var(&cfg.Faults.HangRate, "hang-rate", 0, "fault: fraction of requests never answered until the client goes")
	fs.IntVar(&cfg.Faults.CloseAfterChunks, "close-after-chunks", 0, "fault: abort the connection after this many SSE events (0: off unless --close-rate)")
	fs.Float64Var(&cfg.Faults.CloseRate, "close-rate", 0, "fault: fraction of requests aborted (default 1 when --close-after-chunks > 0)")
	fs.DurationVar(&cfg.Faults.SlowStart, "slow-start", 0, "fault: extra delay before the first token")
	fs.Float64Var(&cfg.Faults.SlowStartRate, "slow-start-rate", 0, "fault: fraction of requests slowed (default 1 when --slow-start > 0)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aimesh sim: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "aimesh sim: --log-level: %v\n", err)
		return 2
	}
	cfg.TimeScale = *timeScale
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	h, firstPort := *host, *port
	if *addr != "" {
		hp, ps, err := net.SplitHostPort(*addr)
		if err == nil {
			firstPort, err = strconv.Atoi(ps)
		}
		if err != nil {
			fmt.Fprintf(stderr, "aimesh sim: --addr %q: want host:port\n", *addr)
			return 2
		}
		h = hp
	}
	cfgs, err := simConfigs(cfg, *count, *model, *name, *version, *seed)
	if err != nil {
		fmt.Fprintf(stderr, "aimesh sim: %v\n", err)
		return 2
	}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			fmt.Fprintf(stderr, "aimesh sim: %v\n", err)
			return 2
		}
	}

	cluster, err := sim.StartCluster(ctx, h, firstPort, cfgs)
	if err != nil {
		fmt.Fprintf(stderr, "aimesh sim: %v\n", err)
		return 1
	}
	for _, r := range cluster.Servers {
		c := r.Config()
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", c.Name, c.Model, r.URL)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := cluster.Shutdown(sctx); err != nil {
		cfg.Logger.Warn("sim shutdown", "err", err)
	}
	return 0
}

// simConfigs makes one config per server from the shared flags and the per-server patterns.
func simConfigs(base sim.Config, count int, model, name, version string, seed uint64) ([]sim.Config, error) {
	models, err := sim.ExpandNames(model, count)
	if err != nil {
		return nil, fmt.Errorf("--model: %w", err)
	}
	names, err := sim.ExpandNames(name, count)
	if err != nil {
		return nil, fmt.Errorf("--name: %w", err)
	}
	versions := make([]string, count)
	if version != "" {
		if versions, err = sim.ExpandNames(version, count); err != nil {
			return nil, fmt.Errorf("--version: %w", err)
		}
	}
	cfgs := make([]sim.Config, count)
	for i := range cfgs {
		c := base
		c.Model, c.Name, c.Version = models[i], names[i], versions[i]
		c.Seed = seed + uint64(i)
		cfgs[i] = c
	}
	return cfgs, nil
}
