package proxy

import (
	"crypto/tls"
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
	tls      *tls.Config
}

// NewPools returns Pools with defaults.
func NewPools() *Pools {
	return &Pools{DialTimeout: 5 * time.Second, MaxIdlePerHost: 256, m: map[poolKey]*http.Transport{}}
}

// Transport returns the shared transport for HTTP/1.1 (h2 false) or
// HTTP/2 (h2 true: prior knowledge over cleartext, ALPN over TLS), with at
// most maxConns connections per endpoint (0: no cap), over TLS with tcfg
// when it is not nil. tcfg must be long-lived: it keys the pool.
func (p *Pools) Transport(h2 bool, maxConns int, tcfg *tls.Config) *http.Transport {
	k := poolKey{h2c: h2, maxConns: maxConns, tls: tcfg}
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
	switch {
	case tcfg != nil:
		t.TLSClientConfig = tcfg.Clone()
		t.TLSHandshakeTimeout = p.DialTimeout
		t.Protocols = new(http.Protocols)
		if h2 {
			t.Protocols.SetHTTP2(true)
		} else {
			t.Protocols.SetHTTP1(true)
		}
	case h2:
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
