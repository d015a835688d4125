package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aimesh/aimesh/internal/discovery"
	"github.com/aimesh/aimesh/internal/proxy"
	"github.com/aimesh/aimesh/internal/snapshot"
)

// connect serves an HTTP CONNECT on the mesh listener: a tunnel to a host
// outside the mesh, as egressFilter ALLOW_ALL permits (HTTPS egress for
// apps that use the mesh listener as their HTTP proxy).
func (g *Gateway) connect(w http.ResponseWriter, r *http.Request, st *reqState, snap *snapshot.Snapshot, host string, port int) {
	st.service, st.routeName = host, "egress"
	if !snap.AllowEgress {
		g.reject(w, st, http.StatusForbidden, "permission_error", "egress_denied",
			"CONNECT to "+host+": the mesh's egressFilter is DROP_ALL")
		return
	}
	if port == 0 {
		port = 443
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	up, err := net.DialTimeout("tcp", addr, g.pools.DialTimeout)
	if err != nil {
		g.reject(w, st, http.StatusBadGateway, "upstream_error", "upstream_connect_error", "CONNECT "+addr+": "+err.Error())
		return
	}
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	st.res.Code, st.res.Upstream = http.StatusOK, addr
	if err := rc.Flush(); err != nil {
		up.Close()
		return
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		up.Write(b)
	}
	g.tunnels.Add(1)
	defer g.tunnels.Done()
	_, down := proxy.Pipe(g.cutTunnels, conn, up, snapshot.DefaultIdle)
	st.res.BytesSent = down
}

// tcpServer forwards connections on a tcpRoute port.
type tcpServer struct {
	g     *Gateway
	port  int
	li    listenerInfo
	conns sync.WaitGroup
	// cut ends when the listener's drain timeout passes (it was removed
	// from the config, or the gateway shuts down): the connections still
	// open are then closed.
	cut  context.Context
	stop context.CancelFunc
}

func newTCPServer(g *Gateway, port int, li listenerInfo) *tcpServer {
	s := &tcpServer{g: g, port: port, li: li}
	s.cut, s.stop = context.WithCancel(g.cutTunnels)
	return s
}

// drain waits, once the listener is closed, for the open connections to
// end, closing them when ctx ends first; it reports whether any had to be
// cut.
func (s *tcpServer) drain(ctx context.Context) (forced bool) {
	return drainGroup(ctx, &s.conns, s.stop)
}

// drainGroup waits for wg. When ctx ends first it calls cut, which must
// make every member of wg end promptly, and waits for them; it reports
// whether it had to cut. cut is called either way, to release it.
func drainGroup(ctx context.Context, wg *sync.WaitGroup, cut func()) (forced bool) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // both were ready: nothing to cut
		default:
			forced = true
		}
	}
	cut()
	<-done
	return forced
}

func (s *tcpServer) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.handle(c)
		}()
	}
}

// handle picks the first tcpRoute of the port, a weighted target, and an
// endpoint (retrying connection errors on other endpoints), then pipes.
func (s *tcpServer) handle(c net.Conn) {
	snap := s.g.holder.Load()
	var tl *snapshot.TCPListener
	for _, l := range snap.TCP {
		if l.Port == s.port {
			tl = l
		}
	}
	if tl == nil || len(tl.Routes) == 0 {
		c.Close()
		return
	}
	s.li.metrics.InFlightInc()
	defer s.li.metrics.InFlightDec()
	rt := tl.Routes[0]
	t := rt.Pick()
	start := time.Now()
	var tried []*discovery.Endpoint
	var up net.Conn
	attempts := 1 + rt.Retry.MaxRetries
	if attempts < 3 {
		attempts = 3 // connection errors are always worth another endpoint
	}
	var plan proxy.Plan // TCP carries no request: picking sees load and health only
	for i := 0; i < attempts; i++ {
		ep, _ := s.g.lb.Pick(t, &plan, tried)
		if ep == nil {
			break
		}
		tried = append(tried, ep)
		conn, err := net.DialTimeout("tcp", ep.Addr, s.g.pools.DialTimeout)
		if err == nil {
			up = conn
			ep.InFlight.Add(1)
			defer ep.InFlight.Add(-1)
			break
		}
		s.g.metrics.UpstreamError(t.Node.Name, "connect")
		s.g.lb.Done(t, ep, &plan, 0, "connect")
	}
	m := t.Metrics(s.g.metrics, s.li.idx, s.li.name, tl.Service, rt.Name)
	if up == nil {
		c.Close()
		m.Observe(http.StatusBadGateway, time.Since(start), 0)
		return
	}
	proxy.Pipe(s.cut, c, up, snapshot.Cap(rt.Idle, t.IdleCap))
	m.Observe(http.StatusOK, time.Since(start), 0)
}
