package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/discovery"
)

// CheckConfig is a listener's active healthCheck.
type CheckConfig struct {
	Protocol           v1.PortProtocol
	Path               string // http and http2; default "/"
	Port               int    // 0: the endpoint's port
	Interval, Timeout  time.Duration
	Healthy, Unhealthy int // consecutive results that flip the state
}

// CheckConfigFrom converts the API type.
func CheckConfigFrom(hc *v1.HealthCheckPolicy) CheckConfig {
	c := CheckConfig{
		Protocol:  hc.Protocol,
		Path:      "/",
		Interval:  time.Duration(hc.IntervalMillis) * time.Millisecond,
		Timeout:   time.Duration(hc.TimeoutMillis) * time.Millisecond,
		Healthy:   int(hc.HealthyThreshold),
		Unhealthy: int(hc.UnhealthyThreshold),
	}
	if hc.Path != nil && *hc.Path != "" {
		c.Path = *hc.Path
	}
	if hc.Port != nil {
		c.Port = int(*hc.Port)
	}
	return c
}

// CheckState is the active check's verdict on one endpoint: it flips to
// unhealthy after Unhealthy consecutive failures and back after Healthy
// consecutive successes. A new endpoint starts healthy (it is checked at
// once), so a fresh node serves before its first round of checks.
type CheckState struct {
	Unhealthy bool
	streak    int // consecutive results against the current state
}

// Observe records one check result and reports whether the state flipped.
func (s *CheckState) Observe(ok bool, healthy, unhealthy int) bool {
	if ok != s.Unhealthy { // agrees with the current state
		s.streak = 0
		return false
	}
	s.streak++
	need := unhealthy
	if s.Unhealthy {
		need = healthy
	}
	if s.streak < max(need, 1) {
		return false
	}
	s.Unhealthy, s.streak = !s.Unhealthy, 0
	return true
}

// checker probes one endpoint.
type checker struct {
	ep    *discovery.Endpoint
	cfg   CheckConfig
	addr  string
	http  *http.Client
	log   *slog.Logger
	state CheckState
}

func newChecker(ep *discovery.Endpoint, cfg CheckConfig, h1, h2c *http.Client, log *slog.Logger) *checker {
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		host, port = ep.Addr, "80"
	}
	if cfg.Port != 0 {
		port = strconv.Itoa(cfg.Port)
	}
	c := &checker{ep: ep, cfg: cfg, addr: net.JoinHostPort(host, port), http: h1, log: log}
	if cfg.Protocol == v1.ProtocolHTTP2 || cfg.Protocol == v1.ProtocolGRPC {
		c.http = h2c
	}
	return c
}

// run checks at once, then every interval (the first wait jittered by up
// to a tenth of it), publishing state changes on the endpoint.
func (c *checker) run(ctx context.Context) {
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := c.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		if c.state.Observe(err == nil, c.cfg.Healthy, c.cfg.Unhealthy) {
			c.ep.State.SetUnhealthy(c.state.Unhealthy)
			if c.state.Unhealthy {
				c.log.Warn("endpoint failed its health check; it gets no traffic", "endpoint", c.ep.Addr, "err", err)
			} else {
				c.log.Info("endpoint passed its health check again", "endpoint", c.ep.Addr)
			}
		}
		wait = c.cfg.Interval
		if wait <= 0 {
			wait = 5 * time.Second
		}
		wait += rand.N(wait/10 + 1)
	}
}

var errGRPCNotServing = errors.New("grpc health: not SERVING")

// probe runs one check within the timeout.
func (c *checker) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	switch c.cfg.Protocol {
	case v1.ProtocolTCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return fmt.Errorf("tcp health check %s: %w", c.addr, err)
		}
		return conn.Close()
	case v1.ProtocolGRPC:
		return c.grpc(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+c.cfg.Path, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", c.addr, err)
	}
	req.Header.Set("User-Agent", "aimesh-health-check")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", c.addr, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check %s%s: status %d", c.addr, c.cfg.Path, resp.StatusCode)
	}
	return nil
}

// grpc calls grpc.health.v1.Health/Check for the whole server (empty
// service name) and expects SERVING.
func (c *checker) grpc(ctx context.Context) error {
	body := []byte{0, 0, 0, 0, 0} // uncompressed, empty HealthCheckRequest
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr+"/grpc.health.v1.Health/Check", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("grpc health check %s: %w", c.addr, err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("grpc health check %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return fmt.Errorf("grpc health check %s: %w", c.addr, err)
	}
	status := resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status")
	}
	if resp.StatusCode != http.StatusOK || status != "0" {
		return fmt.Errorf("grpc health check %s: http %d grpc-status %q", c.addr, resp.StatusCode, status)
	}
	// One length-prefixed HealthCheckResponse: field 1 (status) = 1
	// (SERVING) is encoded 0x08 0x01.
	if len(msg) < 5 || int(binary.BigEndian.Uint32(msg[1:5])) != len(msg)-5 || !bytes.Equal(msg[5:], []byte{0x08, 0x01}) {
		return errGRPCNotServing
	}
	return nil
}

// h2cClient speaks cleartext HTTP/2 with prior knowledge.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, TLSClientConfig: &tls.Config{}, MaxIdleConnsPerHost: 1}}
}
