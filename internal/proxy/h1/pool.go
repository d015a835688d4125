package h1

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/aimesh/aimesh/internal/sockio"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// conn is one upstream connection. While idle it holds nothing but the
// net.Conn: the read buffer belongs to the response in flight.
type conn struct {
	nc       net.Conn
	hp       *hostPool
	raw      syscall.RawConn // the TCP socket, for the liveness peek; may be nil
	tlsState *tls.ConnectionState
	idleAt   time.Time
	reused   bool

	// cancel poisons the deadlines so that blocked I/O fails at once; it
	// is built once per connection and given to context.AfterFunc.
	cancel func()
	// peek and its result, built once so that a liveness check allocates
	// nothing.
	peek     func(fd uintptr) bool
	peekBuf  [1]byte
	peekDead bool
}

// hostPool holds the connections to one address: a LIFO stack of idle
// ones (the most recently used first, the likeliest to be alive), the
// count of open ones for MaxConnsPerHost, and the callers waiting for a
// slot. A timer, armed only while there is something to expire, closes
// idle connections past IdleTimeout and removes an unused pool.
type hostPool struct {
	c    *Client
	addr string

	tlsOnce sync.Once
	tlsConf *tls.Config

	mu      sync.Mutex
	idle    []*conn // oldest first
	open    int     // idle and in use
	waiters []chan struct{}
	timer   *time.Timer
	armed   bool
	gone    bool // removed from c.pools
}

// hostPool returns the pool for addr, creating it.
func (c *Client) hostPool(addr string) *hostPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	hp := c.pools[addr]
	if hp == nil {
		if c.pools == nil {
			c.pools = make(map[string]*hostPool)
		}
		hp = &hostPool{c: c, addr: addr}
		c.pools[addr] = hp
	}
	return hp
}

// peekAfter is how long a connection must have been idle before it is
// checked (a syscall) for having been closed by the upstream. Upstreams
// close idle keep-alive connections after seconds (uvicorn and so vLLM:
// 5 s), not within one; a connection that fails anyway is replaced by
// RoundTrip's retry on a fresh one.
const peekAfter = time.Second

// get returns an idle connection (unless fresh) or a new one, waiting for
// a slot when the pool is at MaxConnsPerHost.
func (hp *hostPool) get(ctx context.Context, fresh bool, deadline time.Time) (*conn, error) {
	c := hp.c
	for {
		hp.mu.Lock()
		if hp.gone {
			hp.mu.Unlock()
			hp = c.hostPool(hp.addr)
			continue
		}
		if n := len(hp.idle); n > 0 && !fresh {
			cn := hp.idle[n-1]
			hp.idle[n-1] = nil
			hp.idle = hp.idle[:n-1]
			hp.mu.Unlock()
			if idle := time.Since(cn.idleAt); idle < c.idleTimeout() && (idle < peekAfter || cn.alive()) {
				cn.reused = true
				return cn, nil
			}
			hp.discard(cn)
			continue
		}
		limit := c.MaxConnsPerHost
		var evict *conn
		if limit > 0 && hp.open >= limit && fresh && len(hp.idle) > 0 {
			// A retry wants a new connection; make room by closing
			// the oldest idle one.
			evict = hp.idle[0]
			hp.idle = append(hp.idle[:0], hp.idle[1:]...)
			hp.open--
		}
		if limit <= 0 || hp.open < limit {
			hp.open++
			hp.mu.Unlock()
			if evict != nil {
				evict.nc.Close()
			}
			cn, err := hp.dial(ctx, deadline)
			if err != nil {
				hp.mu.Lock()
				hp.open--
				hp.wakeLocked()
				hp.armLocked()
				hp.mu.Unlock()
				return nil, err
			}
			return cn, nil
		}
		ch := make(chan struct{}, 1)
		hp.waiters = append(hp.waiters, ch)
		hp.mu.Unlock()
		var (
			timer   *time.Timer
			expired <-chan time.Time
		)
		if !deadline.IsZero() {
			timer = time.NewTimer(time.Until(deadline))
			expired = timer.C
		}
		giveUp := func(err error) (*conn, error) {
			hp.mu.Lock()
			if !hp.removeWaiterLocked(ch) {
				// Woken as we gave up: pass the wake-up on.
				hp.wakeLocked()
			}
			hp.mu.Unlock()
			return nil, err
		}
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctxError(ctx, "wait for connection to "+hp.addr)
		case <-expired:
			err = fmt.Errorf("h1: wait for connection to %s: %w", hp.addr, os.ErrDeadlineExceeded)
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return giveUp(err)
		}
	}
}

func (hp *hostPool) removeWaiterLocked(ch chan struct{}) bool {
	for i, w := range hp.waiters {
		if w == ch {
			hp.waiters = append(hp.waiters[:i], hp.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// wakeLocked tells the longest waiting caller that a slot or an idle
// connection may be available.
func (hp *hostPool) wakeLocked() {
	if len(hp.waiters) == 0 {
		return
	}
	ch := hp.waiters[0]
	hp.waiters[0] = nil
	hp.waiters = hp.waiters[1:]
	ch <- struct{}{}
}

// put returns a connection whose exchange ended cleanly to the pool.
func (hp *hostPool) put(cn *conn) {
	hp.mu.Lock()
	if hp.gone || len(hp.idle) >= hp.c.maxIdlePerHost() {
		hp.mu.Unlock()
		hp.discard(cn)
		return
	}
	cn.idleAt = time.Now()
	hp.idle = append(hp.idle, cn)
	hp.wakeLocked()
	hp.armLocked()
	hp.mu.Unlock()
}

// discard closes a connection taken from the pool or dialled by it.
func (hp *hostPool) discard(cn *conn) {
	cn.nc.Close()
	hp.forget()
}

// forget gives up the slot of a connection that is closed or no longer
// the pool's (Detach).
func (hp *hostPool) forget() {
	hp.mu.Lock()
	hp.open--
	hp.wakeLocked()
	hp.armLocked()
	hp.mu.Unlock()
}

// closeIdle closes all idle connections.
func (hp *hostPool) closeIdle() {
	hp.mu.Lock()
	idle := hp.idle
	hp.idle = nil
	hp.open -= len(idle)
	for range idle {
		hp.wakeLocked()
	}
	hp.armLocked()
	hp.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
	}
}

// armLocked starts the janitor timer when there are idle connections to
// expire or the pool is unused, and it is not running yet.
func (hp *hostPool) armLocked() {
	if hp.armed || hp.gone || (len(hp.idle) == 0 && hp.open > 0) {
		return
	}
	hp.armed = true
	d := hp.c.idleTimeout()
	if len(hp.idle) > 0 {
		d = time.Until(hp.idle[0].idleAt.Add(d))
	}
	if hp.timer == nil {
		hp.timer = time.AfterFunc(d, hp.sweep)
	} else {
		hp.timer.Reset(d)
	}
}

// sweep closes expired idle connections and removes the pool from the
// client when nothing uses it.
func (hp *hostPool) sweep() {
	timeout := hp.c.idleTimeout()
	hp.mu.Lock()
	hp.armed = false
	now := time.Now()
	n := 0
	for n < len(hp.idle) && now.Sub(hp.idle[n].idleAt) >= timeout {
		n++
	}
	expired := append([]*conn(nil), hp.idle[:n]...)
	hp.idle = append(hp.idle[:0], hp.idle[n:]...)
	hp.open -= n
	for range expired {
		hp.wakeLocked()
	}
	unused := hp.open == 0 && len(hp.waiters) == 0
	if !unused {
		hp.armLocked()
	}
	hp.mu.Unlock()
	for _, cn := range expired {
		cn.nc.Close()
	}
	if !unused {
		return
	}
	c := hp.c
	c.mu.Lock()
	hp.mu.Lock()
	if hp.open == 0 && len(hp.waiters) == 0 && !hp.gone && c.pools[hp.addr] == hp {
		hp.gone = true
		delete(c.pools, hp.addr)
	} else if !hp.gone {
		hp.armLocked()
	}
	hp.mu.Unlock()
	c.mu.Unlock()
}

// dial opens a connection to the pool's address, with a TLS handshake
// when the client has a TLS config.
func (hp *hostPool) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	c := hp.c
	d := net.Dialer{Timeout: c.dialTimeout(), Deadline: deadline, KeepAlive: tcpKeepAlive}
	nc, err := d.DialContext(ctx, "tcp", hp.addr)
	if err != nil {
		if ctxEnded(ctx) {
			return nil, fmt.Errorf("h1: dial %s: %w: %w", hp.addr, context.Cause(ctx), err)
		}
		return nil, fmt.Errorf("h1: dial %s: %w", hp.addr, err)
	}
	cn := &conn{nc: nc, hp: hp}
	if tc, ok := nc.(*net.TCPConn); ok {
		cn.raw, _ = tc.SyscallConn()
		nc = sockio.Wrap(tc)
		cn.nc = nc
	}
	if c.TLS != nil {
		tc := tls.Client(nc, hp.tlsConfig())
		hctx, cancel := context.WithTimeout(ctx, c.dialTimeout())
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			if ctxEnded(ctx) {
				return nil, fmt.Errorf("h1: tls handshake %s: %w: %w", hp.addr, context.Cause(ctx), err)
			}
			return nil, fmt.Errorf("h1: tls handshake %s: %w", hp.addr, err)
		}
		st := tc.ConnectionState()
		cn.nc, cn.tlsState = tc, &st
	}
	cn.cancel = func() { cn.nc.SetDeadline(aLongTimeAgo) }
	cn.peek = cn.peekFD
	return cn, nil
}

// tlsConfig is the client's TLS config with ServerName and NextProtos
// set for this address, built once.
func (hp *hostPool) tlsConfig() *tls.Config {
	hp.tlsOnce.Do(func() {
		cfg := hp.c.TLS.Clone()
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(hp.addr)
			if err != nil {
				host = hp.addr
			}
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		hp.tlsConf = cfg
	})
	return hp.tlsConf
}

// alive reports whether an idle connection can be used: the upstream
// has neither closed it nor sent anything unasked (a peek that does not
// block finds nothing to read).
func (cn *conn) alive() bool {
	if cn.raw == nil || cn.peek == nil {
		return true
	}
	cn.peekDead = false
	if err := cn.raw.Read(cn.peek); err != nil {
		return false
	}
	return !cn.peekDead
}
