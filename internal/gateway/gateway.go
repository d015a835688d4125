package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/fastlane"
	"github.com/aimesh/aimesh/internal/hangup"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/internal/sockio"
	"github.com/aimesh/aimesh/internal/telemetry"
)

// Options configure a Gateway.
type Options struct {
	// ListenAddress is the IP the VirtualGateway and TCP listeners bind
	// (default 0.0.0.0).
	ListenAddress string
	// MeshAddress is host:port of the mesh listener; empty disables it.
	MeshAddress string
	// AdminAddress is host:port of the admin listener (default
	// 127.0.0.1:9901); empty disables it.
	AdminAddress string
	// Mesh and Node select what to serve (see snapshot.Options).
	Mesh, Node string
	// MaxBodyBytes bounds request bodies aimesh reads for model routing
	// (413 past it) and the copy of a streamed body kept for retries and
	// fallbacks (a longer body is forwarded, and not sent again once its
	// first byte went out). Default 4 MiB.
	MaxBodyBytes int64
	// DrainTimeout bounds Shutdown (default 30s).
	DrainTimeout time.Duration
	// DNSRefresh is how often DNS discovery re-resolves (default 5s).
	DNSRefresh time.Duration
	// Kubernetes marks resources as coming from the API server.
	Kubernetes bool
	// AccessLogBuffering is how access log lines reach their files (nil:
	// telemetry.DefaultBuffering, 64 KiB per file written at least every
	// second; a zero Buffering writes every line at once).
	AccessLogBuffering *telemetry.Buffering
	// NetHTTPOnly serves plaintext HTTP/1.1 with net/http alone, without
	// the fast lane (package fastlane) in front of it.
	NetHTTPOnly bool
	Log         *slog.Logger
}

// Gateway is a running data plane.
type Gateway struct {
	Options
	holder   snapshot.Holder
	fwd      *proxy.Forwarder
	metrics  *telemetry.Metrics
	logFiles *telemetry.LogFiles
	eps      *discovery.Registry
	lb       *balance
	pools    *proxy.Pools
	tls      tlsCache
	gen      atomic.Int64
	applyMu  sync.Mutex
	draining atomic.Bool

	mu        sync.Mutex
	listeners map[string]*boundListener // by kind:port
	lisIdx    map[string]int
	tunnels   sync.WaitGroup
	// cutTunnels ends when Shutdown's drain timeout passes: the CONNECT
	// tunnels and tcpRoute connections still open are then closed.
	cutTunnels context.Context
	cut        context.CancelFunc
	streams    *proxy.Streams
	hangups    *hangup.Watcher // clients of slow fast-lane requests
	admin      *http.Server
}

// boundListener is one socket and the server on it.
type boundListener struct {
	key  string
	want wanted
	ln   net.Listener
	srv  *http.Server // nil for TCP listeners
	// fast serves fastLn (plaintext HTTP) in front of srv.
	fast   *fastlane.Server
	fastLn net.Listener
	tcp    *tcpServer
	done   chan struct{}
}

// New returns a Gateway that serves nothing until Apply.
func New(o Options) *Gateway {
	if o.ListenAddress == "" {
		o.ListenAddress = "0.0.0.0"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	g := &Gateway{
		Options:   o,
		metrics:   telemetry.NewMetrics(),
		logFiles:  telemetry.NewLogFilesWith(nil, o.Log, buffering(o.AccessLogBuffering)),
		eps:       discovery.NewRegistry(o.Log),
		pools:     proxy.NewPools(),
		streams:   proxy.NewStreams(o.Log),
		hangups:   hangup.New(o.Log),
		listeners: map[string]*boundListener{},
		lisIdx:    map[string]int{},
	}
	g.cutTunnels, g.cut = context.WithCancel(context.Background())
	if o.DNSRefresh > 0 {
		g.eps.Refresh = o.DNSRefresh
	}
	g.lb = newBalance(o.Log)
	g.fwd = &proxy.Forwarder{Pools: g.pools, Pick: proxy.RoundRobin, Balancer: g.lb, MaxReplay: o.MaxBodyBytes, ClientTLS: g.clientTLS, Streams: g.streams, Log: o.Log}
	return g
}

func buffering(b *telemetry.Buffering) telemetry.Buffering {
	if b == nil {
		return telemetry.DefaultBuffering
	}
	return *b
}

// ReopenLogs writes out and reopens every access log file (log rotation).
func (g *Gateway) ReopenLogs() error { return g.logFiles.Reopen() }

// Metrics returns the gateway's metrics.
func (g *Gateway) Metrics() *telemetry.Metrics { return g.metrics }

// Endpoints returns the endpoint registry (Kubernetes mode feeds it).
func (g *Gateway) Endpoints() *discovery.Registry { return g.eps }

// Snapshot returns the snapshot being served (nil before the first Apply).
func (g *Gateway) Snapshot() *snapshot.Snapshot { return g.holder.Load() }

// Apply compiles res, binds any new listener and swaps the snapshot in.
// On any error the previous snapshot keeps serving.
func (g *Gateway) Apply(res *config.Resources) error {
	g.applyMu.Lock()
	defer g.applyMu.Unlock()
	gen := g.gen.Load() + 1
	g.eps.Begin()
	snap, err := snapshot.Compile(res, snapshot.Options{
		Mesh: g.Mesh, Node: g.Node, Generation: gen,
		Endpoints: g.eps, Metrics: g.metrics, LogFiles: g.logFiles,
	})
	// On failure the registry round is left open: sets the failed compile
	// created stay until the next successful Apply releases them.
	if err != nil {
		g.metrics.Reload(false, g.gen.Load())
		return fmt.Errorf("compile: %w", err)
	}
	if err := g.prepareTLS(snap); err != nil {
		g.metrics.Reload(false, g.gen.Load())
		return err
	}
	picks, err := g.lb.prepare(snap)
	if err != nil {
		g.metrics.Reload(false, g.gen.Load())
		return err
	}
	if err := g.bind(snap); err != nil {
		g.metrics.Reload(false, g.gen.Load())
		return err
	}
	g.lb.commit(picks, snap)
	g.eps.End()
	g.gen.Store(gen)
	old := g.holder.Load()
	g.holder.Store(snap)
	if old != nil {
		// Requests that started on the old snapshot may still log.
		time.AfterFunc(g.DrainTimeout+time.Minute, old.CloseLoggers)
	}
	g.unbindUnused(snap)
	g.metrics.Reload(true, gen)
	g.Log.Info("config applied", "generation", gen, "services", len(snap.Services), "gateway_listeners", len(snap.Gateways))
	return nil
}

// listenerIndex gives each listener name a small stable index.
func (g *Gateway) listenerIndex(name string) int {
	if i, ok := g.lisIdx[name]; ok {
		return i
	}
	i := len(g.lisIdx)
	g.lisIdx[name] = i
	return i
}

// bind opens the sockets snap needs that are not open yet, and reopens a
// port whose protocol or TLS mode changed. If one fails, the ones it
// opened are closed again (and a replaced one reopened as it was).
func (g *Gateway) bind(snap *snapshot.Snapshot) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var opened, replaced []*boundListener
	fail := func(err error) error {
		for _, b := range opened {
			b.ln.Close()
			delete(g.listeners, b.key)
		}
		for _, old := range replaced {
			if b, rerr := g.open(old.want); rerr == nil {
				g.listeners[b.key] = b
			} else {
				g.Log.Error("could not reopen a listener after a failed reload", "listener", old.key, "err", rerr)
			}
		}
		return err
	}
	for _, w := range wantedListeners(snap, g.MeshAddress) {
		if b, ok := g.listeners[w.key]; ok {
			if b.want.variant() == w.variant() {
				continue
			}
			// Same port, another protocol or TLS mode: the socket must be
			// reopened. Requests in flight on it finish in the background.
			b.ln.Close()
			delete(g.listeners, w.key)
			go g.closeListener(b, g.DrainTimeout)
			replaced = append(replaced, b)
		}
		b, err := g.open(w)
		if err != nil {
			return fail(err)
		}
		g.listeners[w.key] = b
		opened = append(opened, b)
	}
	return nil
}

// open binds one listener and starts serving it.
func (g *Gateway) open(w wanted) (*boundListener, error) {
	addr := w.addr
	if addr == "" {
		addr = net.JoinHostPort(g.ListenAddress, strconv.Itoa(w.port))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s for %s: %w", addr, w.what, err)
	}
	b := &boundListener{key: w.key, want: w, ln: ln, done: make(chan struct{})}
	li := listenerInfo{name: w.name, idx: g.listenerIndex(w.name), port: w.port, metrics: g.metrics.Listener(w.name)}
	var serveLn net.Listener = ln
	if w.kind != "tcp" {
		// HTTP connections' reads and writes skip the scheduler's syscall
		// state (package sockio); TCP routes keep splice.
		serveLn = sockio.Listener{Listener: ln}
	}
	serveLn = g.wrapTLS(serveLn, w.port, w.tls)
	if w.kind != "tcp" && (w.tls == v1.TLSModeDisabled || w.tls == "") {
		if g.NetHTTPOnly {
			// Plaintext HTTP/1.1 streams may leave net/http (proxy.Stream)
			// and come back here for the connection's next request.
			al := newAgainListener(serveLn, nil)
			serveLn, li.resume = al, al.resume
		} else {
			// The fast lane serves the socket and gives net/http what it
			// does not serve itself; streams come back to the fast lane.
			al := newAgainListener(nil, serveLn.Addr())
			m := li.metrics
			handOff := func(c net.Conn, ahead []byte) bool { m.HandOff(); return al.resume(c, ahead) }
			b.fast = &fastlane.Server{HandOff: handOff, ReadHeaderTimeout: readHeaderTimeout,
				IdleTimeout: idleTimeout, Hangups: g.hangups, Log: g.Log}
			b.fastLn, serveLn, li.resume = serveLn, al, b.fast.ServeConn
		}
	}
	var h http.Handler
	switch w.kind {
	case "tcp":
		b.tcp = newTCPServer(g, w.port, li)
	case "mesh":
		h = &meshHandler{g: g, li: li}
	default:
		h = &gatewayHandler{g: g, li: li}
	}
	if h != nil {
		b.srv = g.httpServer(h, w.protocol)
	}
	if b.fast != nil {
		b.fast.Handler = h
	}
	g.Log.Info("listening", "listener", w.name, "address", ln.Addr().String(), "tls", string(w.tls))
	go g.serve(b, serveLn)
	return b, nil
}

func (g *Gateway) serve(b *boundListener, ln net.Listener) {
	defer close(b.done)
	var err error
	if b.fast != nil {
		fastDone := make(chan struct{})
		go func() {
			defer close(fastDone)
			if err := b.fast.Serve(b.fastLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				g.Log.Error("listener stopped", "listener", b.key, "err", err)
			}
		}()
		defer func() { <-fastDone }()
	}
	if b.tcp != nil {
		err = b.tcp.serve(ln)
	} else {
		err = b.srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		g.Log.Error("listener stopped", "listener", b.key, "err", err)
	}
}

// unbindUnused gracefully closes listeners snap no longer has.
func (g *Gateway) unbindUnused(snap *snapshot.Snapshot) {
	want := map[string]bool{}
	for _, w := range wantedListeners(snap, g.MeshAddress) {
		want[w.key] = true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, b := range g.listeners {
		if !want[k] {
			delete(g.listeners, k)
			go g.closeListener(b, g.DrainTimeout)
		}
	}
}

func (g *Gateway) closeListener(b *boundListener, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b.shutdown(ctx)
}

// shutdown stops b's servers gracefully, closing what is left when ctx
// ends; it reports whether anything had to be cut.
func (b *boundListener) shutdown(ctx context.Context) (forced bool) {
	if b.srv == nil {
		b.ln.Close()
		<-b.done
		return b.tcp.drain(ctx)
	}
	var fastErr error
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		if b.fast != nil {
			fastErr = b.fast.Shutdown(ctx)
		}
	}()
	if err := b.srv.Shutdown(ctx); err != nil {
		forced = true
		b.srv.Close()
	}
	<-fastDone
	<-b.done
	return forced || fastErr != nil
}

// ListenerAddr returns the bound address of a listener key such as
// "gateway:8080", "mesh" or "tcp:9000" (nil when not bound).
func (g *Gateway) ListenerAddr(key string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.listeners[key]; ok {
		return b.ln.Addr()
	}
	return nil
}

type wanted struct {
	key, name, what, kind, addr string
	port                        int
	protocol                    string
	tls                         v1.ListenerTLSMode
}

// variant is what, besides the port, a bound socket is fixed to.
func (w wanted) variant() string { return w.protocol + "/" + string(w.tls) }

func wantedListeners(snap *snapshot.Snapshot, meshAddr string) []wanted {
	var out []wanted
	if meshAddr != "" {
		out = append(out, wanted{key: "mesh", name: "mesh", what: "the mesh listener", kind: "mesh", addr: meshAddr, protocol: "http2"})
	}
	for _, gl := range snap.Gateways {
		p := strconv.Itoa(gl.Port)
		out = append(out, wanted{key: "gateway:" + p, name: "gateway:" + gl.Name, what: "VirtualGateway " + gl.Gateway, kind: "gateway", port: gl.Port, protocol: string(gl.Protocol), tls: tlsMode(gl.TLS)})
	}
	for _, tl := range snap.TCP {
		p := strconv.Itoa(tl.Port)
		out = append(out, wanted{key: "tcp:" + p, name: "tcp:" + p, what: "tcp routes of " + tl.Service, kind: "tcp", port: tl.Port})
	}
	return out
}

// The timeouts of client connections: a request head arriving in pieces,
// and a keep-alive connection between requests.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 5 * time.Minute
)

func (g *Gateway) httpServer(h http.Handler, protocol string) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         listenerProtocols(v1Protocol(protocol)),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(g.Log.Handler(), slog.LevelDebug),
	}
}

// Shutdown stops accepting, lets in-flight requests and streams finish
// within the drain timeout, then closes what is left.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, g.DrainTimeout)
	defer cancel()
	g.mu.Lock()
	ls := make([]*boundListener, 0, len(g.listeners))
	for k, b := range g.listeners {
		ls = append(ls, b)
		delete(g.listeners, k)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	var forced atomic.Bool
	for _, b := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.shutdown(ctx) {
				forced.Store(true)
			}
		}()
	}
	wg.Wait()
	// Streams relayed outside net/http are not in its Shutdown's count.
	if err := g.streams.Drain(ctx); err != nil {
		forced.Store(true)
	}
	if drainGroup(ctx, &g.tunnels, g.cut) { // cutting closes both sides of every tunnel
		forced.Store(true)
	}
	if g.admin != nil {
		g.admin.Close()
	}
	g.lb.close()
	g.eps.Close()
	g.pools.CloseIdle()
	if s := g.holder.Load(); s != nil {
		s.CloseLoggers()
	}
	g.logFiles.Close()
	if forced.Load() {
		return fmt.Errorf("drain timeout %s: open requests were cut", g.DrainTimeout)
	}
	return nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
