package gateway

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/snapshot"
	"github.com/aimesh/aimesh/internal/tlsconfig"
)

// tlsCache builds one tls.Config per distinct TLS setting and keeps it, so
// an unchanged setting keeps its config (and its pooled upstream
// connections) across reloads.
type tlsCache struct {
	mu     sync.Mutex
	server map[string]*tls.Config
	client map[string]*tls.Config
}

func specKey(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// serverConfig returns the config that terminates a listener's TLS, or nil
// for plaintext (no tls, or mode DISABLED). ALPN offers h2 only on http2
// and grpc listeners.
func (c *tlsCache) serverConfig(spec *v1.ListenerTLS, protocol v1.PortProtocol) (*tls.Config, error) {
	if spec == nil || spec.Mode == v1.TLSModeDisabled {
		return nil, nil
	}
	k := string(protocol) + specKey(spec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.server[k]; ok {
		return cfg, nil
	}
	cfg, _, err := tlsconfig.Server(spec)
	if err != nil {
		return nil, err
	}
	if protocol == v1.ProtocolHTTP {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if c.server == nil {
		c.server = map[string]*tls.Config{}
	}
	c.server[k] = cfg
	return cfg, nil
}

// clientConfig returns the config for TLS to upstreams under a client
// policy, or nil when the policy does not enforce TLS.
func (c *tlsCache) clientConfig(spec *v1.ClientPolicyTLS) (*tls.Config, error) {
	if spec == nil {
		return nil, nil
	}
	k := specKey(spec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.client[k]; ok {
		return cfg, nil
	}
	cfg, err := tlsconfig.Client(spec)
	if err != nil {
		return nil, err
	}
	if c.client == nil {
		c.client = map[string]*tls.Config{}
	}
	c.client[k] = cfg
	return cfg, nil
}

// prepareTLS builds every TLS config snap uses, so that a certificate that
// cannot be read rejects the reload instead of failing requests.
func (g *Gateway) prepareTLS(snap *snapshot.Snapshot) error {
	for _, gl := range snap.Gateways {
		if _, err := g.tls.serverConfig(gl.TLS, gl.Protocol); err != nil {
			return fmt.Errorf("VirtualGateway %s listener %d: %w", gl.Gateway, gl.Port, err)
		}
		if _, err := g.tls.clientConfig(gl.ClientTLS); err != nil {
			return fmt.Errorf("VirtualGateway %s backendDefaults.clientPolicy: %w", gl.Gateway, err)
		}
	}
	if n := snap.Sidecar; n != nil {
		for vs, p := range n.ClientTLS {
			if _, err := g.tls.clientConfig(p); err != nil {
				return fmt.Errorf("VirtualNode %s client policy for %s: %w", n.Name, vs, err)
			}
		}
	}
	return nil
}

// ClientTLS is the proxy's hook: the config for a client policy (built and
// cached by prepareTLS before the snapshot was served).
func (g *Gateway) clientTLS(p *v1.ClientPolicyTLS) *tls.Config {
	cfg, err := g.tls.clientConfig(p)
	if err != nil {
		g.Log.Error("client TLS config", "err", err)
		return nil
	}
	return cfg
}

// tlsMode is a listener's TLS mode as the bound socket sees it.
func tlsMode(spec *v1.ListenerTLS) v1.ListenerTLSMode {
	if spec == nil || spec.Mode == "" {
		return v1.TLSModeDisabled
	}
	return spec.Mode
}

// wrapTLS makes a gateway listener terminate TLS per its mode. The
// certificate is looked up per handshake in the snapshot being served, so
// a reload that changes certificate files takes effect without a rebind.
func (g *Gateway) wrapTLS(ln net.Listener, port int, mode v1.ListenerTLSMode) net.Listener {
	if mode == v1.TLSModeDisabled || mode == "" { // "": the mesh listener
		return ln
	}
	dyn := &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			if snap := g.holder.Load(); snap != nil {
				for _, gl := range snap.Gateways {
					if gl.Port == port {
						return g.tls.serverConfig(gl.TLS, gl.Protocol)
					}
				}
			}
			return nil, fmt.Errorf("no TLS listener on port %d", port)
		},
	}
	return tlsconfig.Listen(ln, dyn, mode == v1.TLSModePermissive)
}
