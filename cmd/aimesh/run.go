package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
	"github.com/aimesh/aimesh/internal/gctune"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// fileList is a repeatable -f flag.
type fileList []string

func (f *fileList) String() string { return strings.Join(*f, ",") }

func (f *fileList) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// runFlags are the flags of `aimesh run` (and the gateway part of demo).
type runFlags struct {
	files      fileList
	listen     string
	meshListen string
	admin      string
	mesh, node string
	maxBody    int64
	drain      time.Duration
	dnsRefresh time.Duration
	logLevel   string
	logFormat  string
	noWatch    bool
	// Access log buffering (telemetry.Buffering).
	accessLogFlush  time.Duration
	accessLogBuffer int
	fastLane        bool
	// Garbage collector pacing (internal/gctune).
	gcHeapFloorMiB int
	memLimitMiB    int
}

func (rf *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&rf.listen, "listen-address", "0.0.0.0", "IP address the VirtualGateway and TCP route listeners bind")
	fs.StringVar(&rf.meshListen, "mesh-listen", "127.0.0.1:15001", "host:port of the mesh listener (Host names a VirtualService; also an HTTP proxy for egress); empty disables it")
	fs.StringVar(&rf.admin, "admin", "127.0.0.1:9901", "host:port of the admin listener (/healthz, /readyz, /config, /metrics); empty disables it")
	fs.StringVar(&rf.mesh, "mesh", "", "Mesh to serve when the config has several")
	fs.StringVar(&rf.node, "node", "", "act as the sidecar of this VirtualNode: only its backends may be called")
	fs.Int64Var(&rf.maxBody, "max-body-bytes", 4<<20, "largest request body aimesh reads for model routing or retries (413 past it)")
	fs.DurationVar(&rf.drain, "drain-timeout", 30*time.Second, "on SIGTERM, how long in-flight requests and streams may take to finish")
	fs.DurationVar(&rf.dnsRefresh, "dns-refresh", 5*time.Second, "how often DNS service discovery re-resolves")
	fs.StringVar(&rf.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&rf.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&rf.accessLogFlush, "access-log-flush-interval", telemetry.DefaultFlushInterval,
		"longest an access log line waits in memory before it is written (0: write every line at once, one system call per request)")
	fs.IntVar(&rf.accessLogBuffer, "access-log-buffer-bytes", telemetry.DefaultBufferSize,
		"access log bytes buffered per file; a buffer that would overflow is written at once")
	fs.BoolVar(&rf.fastLane, "http1-fast-lane", true,
		"serve plain HTTP/1.1 requests on plaintext listeners with aimesh's own server loop (anything else goes to net/http); false: net/http for all")
	fs.IntVar(&rf.gcHeapFloorMiB, "gc-heap-floor-mib", 32,
		"let the heap grow to this many MiB before the garbage collector runs (fewer collections of per-request garbage); 0: Go's default pacing (GOGC)")
	fs.IntVar(&rf.memLimitMiB, "memory-limit-mib", -1,
		"soft memory limit for the Go runtime in MiB; -1: 90% of the container's (cgroup) limit, if any; 0: none. GOMEMLIMIT, if set, wins")
}

// check validates the flags that have no parser of their own.
func (rf *runFlags) check() error {
	if rf.accessLogFlush < 0 {
		return fmt.Errorf("--access-log-flush-interval: want 0 or more, got %s", rf.accessLogFlush)
	}
	if rf.accessLogBuffer < 0 {
		return fmt.Errorf("--access-log-buffer-bytes: want 0 or more, got %d", rf.accessLogBuffer)
	}
	if rf.gcHeapFloorMiB < 0 {
		return fmt.Errorf("--gc-heap-floor-mib: want 0 or more, got %d", rf.gcHeapFloorMiB)
	}
	if rf.memLimitMiB < -1 {
		return fmt.Errorf("--memory-limit-mib: want -1, 0 or more, got %d", rf.memLimitMiB)
	}
	return nil
}

// accessLogBuffering is how the gateway's access log files buffer lines.
func (rf *runFlags) accessLogBuffering() telemetry.Buffering {
	return telemetry.Buffering{FlushInterval: rf.accessLogFlush, Size: rf.accessLogBuffer}
}

func (rf *runFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(rf.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch rf.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", rf.logFormat)
}

func (rf *runFlags) gatewayOptions(log *slog.Logger) gateway.Options {
	b := rf.accessLogBuffering()
	return gateway.Options{
		AccessLogBuffering: &b,
		ListenAddress:      rf.listen,
		MeshAddress:        rf.meshListen,
		AdminAddress:       rf.admin,
		Mesh:               rf.mesh,
		Node:               rf.node,
		MaxBodyBytes:       rf.maxBody,
		DrainTimeout:       rf.drain,
		DNSRefresh:         rf.dnsRefresh,
		NetHTTPOnly:        !rf.fastLane,
		Log:                log,
	}
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf runFlags
	fs.Var(&rf.files, "f", "config file or directory (repeatable)")
	fs.BoolVar(&rf.noWatch, "no-watch", false, "do not reload the files when they change")
	rf.register(fs)
	var kf kubeFlags
	kf.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rf.files = append(rf.files, fs.Args()...)
	if kf.enabled {
		return runKubernetes(ctx, &rf, &kf, stderr)
	}
	if len(rf.files) == 0 {
		fmt.Fprintln(stderr, "aimesh run: no config: pass -f FILE (e.g. -f examples/seed-mesh.yaml)")
		return 2
	}
	log, err := rf.logger(stderr)
	if err == nil {
		err = rf.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "aimesh run:", err)
		return 2
	}
	g := gateway.New(rf.gatewayOptions(log))
	if err := g.LoadAndApply(rf.files); err != nil {
		reportConfigError(stderr, err)
		return 1
	}
	return serve(ctx, g, &rf, log, func(ctx context.Context) {
		if !rf.noWatch {
			if err := g.Watch(ctx, rf.files); err != nil {
				log.Error("config watch failed; reloads are off", "err", err)
			}
		}
	})
}

// serve starts the admin listener, runs background work, waits for a
// signal, and drains.
func serve(ctx context.Context, g *gateway.Gateway, rf *runFlags, log *slog.Logger, background func(context.Context)) int {
	floor, err := rf.paceGC(log)
	if err != nil {
		log.Warn("garbage collector left at Go's default pacing", "err", err)
	}
	defer floor.Stop()
	if addr, err := g.StartAdmin(); err != nil {
		log.Error("admin listener", "err", err)
		g.Shutdown(context.Background())
		return 1
	} else if addr != nil {
		log.Info("admin listening", "address", addr.String())
	}
	bg, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		background(bg)
	}()
	go reopenLogsOnHUP(bg, g, log)
	<-ctx.Done()
	log.Info("shutting down: draining in-flight requests", "timeout", rf.drain)
	cancel()
	<-done
	if err := g.Shutdown(context.Background()); err != nil {
		log.Warn("drain incomplete", "err", err)
	}
	log.Info("stopped")
	return 0
}

// paceGC sets the runtime's soft memory limit and starts the heap floor
// (internal/gctune) as the flags say.
func (rf *runFlags) paceGC(log *slog.Logger) (*gctune.Floor, error) {
	limit := int64(rf.memLimitMiB) << 20
	if rf.memLimitMiB < 0 {
		cg, err := gctune.MemoryLimitFromCgroup()
		if err != nil {
			log.Warn("no memory limit from the cgroup", "err", err)
		}
		limit = cg / 10 * 9
	}
	if gctune.SetMemoryLimit(limit) {
		log.Info("Go memory limit set", "mib", limit>>20)
	}
	return gctune.StartFloor(uint64(rf.gcHeapFloorMiB)<<20, log)
}

// reopenLogsOnHUP reopens the access log files on SIGHUP, as logrotate
// expects of a daemon after it renamed them (without copytruncate).
func reopenLogsOnHUP(ctx context.Context, g *gateway.Gateway, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := g.ReopenLogs(); err != nil {
				log.Error("reopening access log files on SIGHUP", "err", err)
			} else {
				log.Info("access log files reopened (SIGHUP)")
			}
		case <-ctx.Done():
			return
		}
	}
}

// reportConfigError prints every config problem on its own line.
func reportConfigError(w io.Writer, err error) {
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "aimesh: config rejected: %d problem(s)\n", len(list))
		return
	}
	fmt.Fprintln(w, "aimesh:", err)
}
