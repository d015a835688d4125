// Command overhead measures what a proxy hop costs a client: the same
// open-loop load (vegeta as a library) sent directly to a fast loopback
// upstream and through aimesh (the seed mesh, model routing on), nginx
// and HAProxy, in one run. It reports added latency at a low rate and at
// 2,000 RPS, the highest rate each sustains, CPU per request, peak memory
// and the memory an idle SSE stream costs, and writes the section of
// docs/benchmarks.md between the overhead markers. `make bench` runs it.
//
// It starts and stops every process it measures, on 127.0.0.1 only, and
// bounds every load loop in rate, duration and count.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	aimesh, doc, work, only string
	lowRate, highRate       int
	rounds                  int
	dur                     time.Duration
	bound, stepDur          time.Duration
	maxStart, maxLimit      int
	streams                 int
	loadCPU, proxyCPU, nice int
	oneCPU                  int
	timeout                 time.Duration
	skipMax, skipSSE, swap  bool
	pprof, drive            string
	sseHold                 time.Duration
	quota                   float64
	warmup                  time.Duration
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == upstreamFlag {
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(serveUpstream(n))
	}
	if len(os.Args) == 5 && os.Args[1] == floorFlag {
		os.Exit(serveFloor(os.Args[2], os.Args[3], os.Args[4] == floorRawName))
	}
	var o options
	home, _ := os.UserHomeDir()
	flag.StringVar(&o.aimesh, "aimesh", "", "aimesh binary (default: go build ./cmd/aimesh into -work)")
	flag.StringVar(&o.doc, "doc", "", "markdown file whose overhead section to (re)write; empty prints it")
	flag.StringVar(&o.work, "work", filepath.Join(home, ".cache", "aimesh", "bench-overhead"), "scratch directory: configs, logs, binaries")
	flag.StringVar(&o.only, "targets", "aimesh,nginx,haproxy,"+floorName+","+floorRawName,
		"proxies to measure besides direct ("+floorName+", "+floorRawName+": the least a Go proxy does, see floor.go)")
	flag.IntVar(&o.lowRate, "low-rate", 200, "low request rate (per second)")
	flag.IntVar(&o.highRate, "high-rate", 2000, "high request rate (per second)")
	flag.IntVar(&o.rounds, "rounds", 5, "latency rounds per rate (target order rotates each round)")
	flag.DurationVar(&o.dur, "duration", 4*time.Second, "length of one latency attack")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "closed-loop load on each target after it starts, before anything is measured (0: none)")
	flag.DurationVar(&o.bound, "p99-bound", 50*time.Millisecond, "p99 a rate must stay under to count as sustained")
	flag.DurationVar(&o.stepDur, "step", 2*time.Second, "length of one maximum-rate step")
	flag.IntVar(&o.maxStart, "max-start", 1000, "first rate of the maximum-rate search")
	flag.IntVar(&o.maxLimit, "max-limit", 40000, "highest rate the search tries")
	flag.IntVar(&o.streams, "streams", 10000, "idle SSE streams to open per target")
	flag.IntVar(&o.loadCPU, "load-cpu", 0, "CPU for the load generator and upstream (-1: no pinning)")
	flag.IntVar(&o.proxyCPU, "proxy-cpu", 1, "CPU for the proxy under test (-1: no pinning)")
	flag.IntVar(&o.oneCPU, "one-cpu", 0, "also measure the low rate with every process on this CPU (-1: skip); no cross-CPU wake-ups")
	flag.IntVar(&o.nice, "nice", 0, "nice value for the bench and the proxies it starts (root may go below 0)")
	flag.DurationVar(&o.timeout, "timeout", 25*time.Minute, "bound on the whole run")
	flag.BoolVar(&o.skipMax, "skip-max", false, "skip the maximum-rate search")
	flag.BoolVar(&o.skipSSE, "skip-sse", false, "skip the idle-stream memory test")
	flag.BoolVar(&o.swap, "swap", true, "also run the 5,000-route compile-and-swap test (go test ./internal/gateway)")
	flag.StringVar(&o.pprof, "pprof", "", "only profile: drive aimesh at -high-rate for -duration, write its CPU profile here, exit")
	flag.StringVar(&o.drive, "drive", "", "only drive this target at -high-rate (0: closed loop, 64 connections) for -duration, print its CPU per request, exit (to attach perf or strace meanwhile)")
	flag.Float64Var(&o.quota, "quota", 0.3, "CPU quota (fraction of one CPU, cgroup CFS bandwidth) for the capped saturation runs; 0 skips them")
	flag.DurationVar(&o.sseHold, "sse-hold", 0, "keep the idle streams open this long after measuring (to inspect the proxy)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, log, &o); err != nil {
		log.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

var chatBody = []byte(`{"model":"llama-3.1-8b-instruct","messages":[` +
	`{"role":"system","content":"You are a concise assistant for an infrastructure team."},` +
	`{"role":"user","content":"Explain the difference between prefill and decode in LLM inference in two sentences."}],` +
	`"temperature":0.2,"max_tokens":256}`)

var streamBody = []byte(`{"model":"llama-3.1-8b-instruct","stream":true,"messages":[` +
	`{"role":"user","content":"Stream a long answer."}],"max_tokens":4096}`)

func run(ctx context.Context, log *slog.Logger, o *options) error {
	rep := &report{started: time.Now(), command: "make bench-overhead (" + strings.Join(os.Args, " ") + ")",
		machine: machine(), loadBefore: loadAvg(), lowRate: o.lowRate, highRate: o.highRate, rounds: o.rounds,
		dur: o.dur, bound: o.bound, streams: o.streams, direct: "direct", compareAgainst: "nginx",
		proxyCPU: o.proxyCPU, stepDur: o.stepDur,
		maxRPS: map[string]int{}, peakRSS: map[string]int64{}, sse: map[string]*sseResult{}, sat: map[string]*saturation{}, maxBusy: map[string]float64{}, steadyRSS: map[string]int64{}}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	nofile, err := raiseNoFile(200000)
	if err != nil {
		log.Warn("could not raise the open-file limit", "limit", nofile, "err", err)
	}
	if err := pinAndNice(o.loadCPU, o.nice); err != nil {
		log.Warn("pinning the load generator", "err", err)
	} else if o.loadCPU >= 0 {
		runtime.GOMAXPROCS(1)
	}
	rep.setup = fmt.Sprintf("proxy under test on CPU %d, load generator and upstream on CPU %d (taskset / sched_setaffinity; -1 = unpinned); "+
		"aimesh with GOMAXPROCS=1, nginx worker_processes 1, HAProxy nbthread 1; keep-alive client->proxy->upstream; "+
		"every proxy writes an access log line per request to a file (aimesh and nginx buffer up to 64 KiB for at most 1 s, HAProxy writes each line); upstream: minimal HTTP/1.1 server, 1 KiB chat completion JSON; "+
		"request: POST /v1/chat/completions, %d-byte body with a model (aimesh routes on it); RLIMIT_NOFILE %d; nice %d",
		o.proxyCPU, o.loadCPU, len(chatBody), nofile, o.nice)
	up, err := startUpstream(2)
	if err != nil {
		return err
	}
	defer up.Close()
	l := &launcher{work: o.work, cpu: o.proxyCPU, log: log, nofile: nofile}
	if m := int(maxConns(nofile)); rep.streams > m {
		rep.notes = append(rep.notes, fmt.Sprintf("Idle streams: %d asked, %d opened per proxy: the hard open-file limit here is %d "+
			"(no CAP_SYS_RESOURCE to raise it), and each stream holds a client and an upstream socket in the proxy.",
			rep.streams, m, nofile))
		rep.streams = m
	}
	if o.aimesh == "" {
		if o.aimesh, err = buildAimesh(ctx, o.work); err != nil {
			return err
		}
	}
	targets := []*target{{name: "direct", url: "http://" + up.Addr(0) + "/v1/chat/completions", port: up.Port(0)}}
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	start := func(name string) (*target, error) {
		switch name {
		case "aimesh":
			return l.startAimesh(o.aimesh, up, chatBody)
		case "nginx":
			return l.startNginx(ctx, up, chatBody)
		case "haproxy":
			return l.startHAProxy(ctx, up, chatBody)
		case floorName, floorRawName:
			return l.startFloor(name, up, chatBody)
		}
		return nil, errors.New("unknown target " + name)
	}
	for _, name := range strings.Split(o.only, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		t, err := start(name)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	rep.targets = targets
	warmUp(ctx, log, targets, chatBody, o.warmup)
	if o.drive != "" {
		for _, t := range targets {
			if t.name == o.drive {
				if o.highRate == 0 { // closed loop, as the saturation phase
					if o.quota > 0 && t.pid() != 0 {
						_, err := saturateCapped(ctx, log, t, newClient(), chatBody, closedLoopConns, o.dur, o.quota)
						return err
					}
					saturate(ctx, log, t, newClient(), chatBody, closedLoopConns, o.dur)
					return nil
				}
				res := attack(ctx, t, newClient(), chatBody, o.highRate, o.dur)
				all, sys := res.cpu.per10k(res.sent)
				log.Info("drove", "target", t.name, "pid", t.servingPID(), "rate", o.highRate, "sent", res.sent, "errors", res.errs,
					"cpu_s_per_10k", all, "sys_s_per_10k", sys)
				return nil
			}
		}
		return errors.New("-drive names no started target")
	}
	if o.pprof != "" {
		for _, t := range targets {
			if t.name == "aimesh" {
				return profileAimesh(ctx, log, t, chatBody, o.highRate, o.dur, o.quota, o.pprof)
			}
		}
		return errors.New("-pprof needs the aimesh target")
	}
	clients := map[string]*http.Client{}
	for _, t := range targets {
		clients[t.name] = newClient()
	}
	log.Info("latency phase", "rate", o.lowRate)
	rep.low = latencyPhase(ctx, log, targets, clients, chatBody, o.lowRate, o.rounds, o.dur)
	if o.oneCPU >= 0 && o.proxyCPU >= 0 {
		rep.oneCPU = o.oneCPU
		rep.lowOne = oneCPUPhase(ctx, log, o, up, targets, clients, chatBody)
	}
	log.Info("latency phase", "rate", o.highRate)
	rep.high = latencyPhase(ctx, log, targets, clients, chatBody, o.highRate, o.rounds, o.dur)
	for _, t := range targets[1:] {
		rep.steadyRSS[t.name] = statusKB(t.servingPID(), "VmRSS")
	}
	rep.sat = saturationPhase(ctx, log, targets, clients, chatBody, closedLoopConns, 3*time.Second, 5)
	if o.quota > 0 {
		rep.quota = o.quota
		if rep.capped, err = cappedPhase(ctx, log, targets, clients, chatBody, closedLoopConns, 3*time.Second, 5, o.quota); err != nil {
			log.Warn("capped saturation runs skipped", "err", err)
			rep.notes = append(rep.notes, "Capped saturation runs skipped: "+err.Error()+
				" (they need root and a cgroup cpu controller); rps per core is then extrapolated from the uncapped closed loop.")
		}
	}
	if !o.skipMax {
		for _, t := range targets {
			var steps []rateStep
			rep.maxRPS[t.name], steps = maxRate(ctx, log, t, clients[t.name], chatBody, o.bound, o.stepDur, o.maxStart, o.maxLimit)
			rep.maxBusy[t.name] = busyAt(steps, rep.maxRPS[t.name])
			clients[t.name].CloseIdleConnections()
		}
	}
	for _, t := range targets[1:] {
		rep.peakRSS[t.name] = statusKB(t.servingPID(), "VmHWM")
	}
	if !o.skipSSE {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		for i, t := range targets[1:] {
			if t.floor {
				continue // it relays no streams
			}
			// A fresh process: memory freed after the load phases would
			// otherwise hold the first streams without growing RSS.
			t.stop()
			if t, err = start(t.name); err != nil {
				return err
			}
			targets[i+1] = t
			res, err := sseMemory(ctx, log, t, up, streamBody, rep.streams, 64, 2*time.Minute+o.sseHold, o.sseHold)
			if err != nil {
				log.Warn("sse", "err", err)
			}
			rep.sse[t.name] = res
			waitStreamsClosed(up, 30*time.Second)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("run cut short: %w", ctx.Err())
	}
	for _, t := range targets {
		t.stop()
	}
	if o.swap {
		rep.swap = runSwap(ctx, log)
	}
	rep.elapsed = time.Since(rep.started)
	rep.loadAfter = loadAvg()
	section := rep.markdown()
	if o.doc == "" {
		fmt.Print(section)
		return nil
	}
	log.Info("writing", "doc", o.doc)
	return writeDoc(o.doc, section)
}

// oneCPUPhase repeats the low-rate latency phase with the load generator,
// the upstream and every proxy on one CPU, then puts them back.
func oneCPUPhase(ctx context.Context, log *slog.Logger, o *options, up *upstream, ts []*target,
	clients map[string]*http.Client, body []byte) map[string]*phaseStats {
	pin := func(proxies, self int) error {
		for _, t := range ts[1:] {
			if err := pinTree(t.pid(), proxies); err != nil {
				return err
			}
		}
		if err := pinTree(up.cmd.Process.Pid, self); err != nil {
			return err
		}
		return pinAndNice(self, 0)
	}
	defer func() {
		if err := pin(o.proxyCPU, max(o.loadCPU, 0)); err != nil {
			log.Warn("re-pinning after the one-CPU phase", "err", err)
		}
	}()
	if err := pin(o.oneCPU, o.oneCPU); err != nil {
		log.Warn("one-CPU phase skipped", "err", err)
		return nil
	}
	log.Info("latency phase, every process on one CPU", "rate", o.lowRate, "cpu", o.oneCPU)
	return latencyPhase(ctx, log, ts, clients, body, o.lowRate, o.rounds, o.dur)
}

// buildAimesh builds ./cmd/aimesh into dir.
func buildAimesh(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "aimesh")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/aimesh")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/aimesh: %w: %s", err, tail(out))
	}
	return bin, nil
}
