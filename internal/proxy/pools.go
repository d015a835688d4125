package proxy

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Pools holds the upstream transports. They outlive snapshots so that a
// reload keeps pooled connections.
type Pools struct {
	// DialTimeout bounds connection setup (default 5s).
	DialTimeout time.Duration
	// MaxIdlePerHost is the number of idle keep-alive connections kept per
	// endpoint (default 256).
	MaxIdlePerHost int

	mu sync.Mutex
	m  map[poolKey]*http.Transport
}

type poolKey struct {
	h2c      bool
	maxConns int
}

// NewPools returns Pools with defaults.
func NewPools() *Pools {
	return &Pools{DialTimeout: 5 * time.Second, MaxIdlePerHost: 256, m: map[poolKey]*http.Transport{}}
}

// Transport returns the shared transport for HTTP/1.1 (h2c false) or
// prior-knowledge HTTP/2 over cleartext, with at most maxConns
// connections per endpoint (0: no cap).
func (p *Pools) Transport(h2c bool, maxConns int) *http.Transport {
	k := poolKey{h2c: h2c, maxConns: maxConns}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.m[k]; ok {
		return t
	}
	d := &net.Dialer{Timeout: p.DialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: p.MaxIdlePerHost,
		MaxConnsPerHost:     maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// 4 KiB, the net/http default: every open upstream connection
		// holds both buffers, and an idle SSE stream holds its connection
		// for minutes. Request and response bodies larger than a buffer
		// bypass it, so big bodies do not need big buffers.
		WriteBufferSize: 4 << 10,
		ReadBufferSize:  4 << 10,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	p.m[k] = t
	return t
}

// CloseIdle closes idle connections of every transport.
func (p *Pools) CloseIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.m {
		t.CloseIdleConnections()
	}
}
