package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aimesh/aimesh/internal/proxy/h1"
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
	m  map[poolKey]roundTripper
}

// roundTripper is an upstream client: *h1.Client for HTTP/1.1, whose
// calling goroutine does the whole exchange (no goroutine per connection,
// no buffer held by an idle connection, and a connection a proxy.Stream
// can take over), or *http.Transport for HTTP/2.
type roundTripper interface {
	http.RoundTripper
	CloseIdleConnections()
}

type poolKey struct {
	h2c      bool
	maxConns int
	tls      *tls.Config
}

// NewPools returns Pools with defaults.
func NewPools() *Pools {
	return &Pools{DialTimeout: 5 * time.Second, MaxIdlePerHost: 256, m: map[poolKey]roundTripper{}}
}

// Transport returns the shared transport for HTTP/1.1 (h2 false) or
// HTTP/2 (h2 true: prior knowledge over cleartext, ALPN over TLS), with at
// most maxConns connections per endpoint (0: no cap), over TLS with tcfg
// when it is not nil. tcfg must be long-lived: it keys the pool.
func (p *Pools) Transport(h2 bool, maxConns int, tcfg *tls.Config) http.RoundTripper {
	k := poolKey{h2c: h2, maxConns: maxConns, tls: tcfg}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.m[k]; ok {
		return t
	}
	if !h2 {
		c := &h1.Client{DialTimeout: p.DialTimeout, IdleTimeout: 90 * time.Second,
			MaxIdlePerHost: p.MaxIdlePerHost, MaxConnsPerHost: maxConns}
		if tcfg != nil {
			c.TLS = tcfg.Clone()
		}
		p.m[k] = c
		return c
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
		Protocols:           new(http.Protocols),
	}
	if tcfg != nil {
		t.TLSClientConfig = tcfg.Clone()
		t.TLSHandshakeTimeout = p.DialTimeout
		t.Protocols.SetHTTP2(true)
	} else {
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
