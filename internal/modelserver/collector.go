package modelserver

import (
	"context"
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

// maxBody bounds a metrics page (vLLM's is about 30 KiB).
const maxBody = 4 << 20

// scrapeConfig is how one Set's endpoints are scraped.
type scrapeConfig struct {
	engine   v1.ModelServerEngine
	path     string
	port     int // 0: the endpoint's own port
	interval time.Duration
	timeout  time.Duration
}

// collector scrapes one endpoint until its context ends.
type collector struct {
	ep  *discovery.Endpoint
	cfg scrapeConfig
	url string
	hc  *http.Client
	log *slog.Logger
	buf []byte
}

func newCollector(ep *discovery.Endpoint, cfg scrapeConfig, hc *http.Client, log *slog.Logger) *collector {
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		host, port = ep.Addr, "80"
	}
	if cfg.port != 0 {
		port = strconv.Itoa(cfg.port)
	}
	return &collector{
		ep: ep, cfg: cfg, hc: hc, log: log,
		url: "http://" + net.JoinHostPort(host, port) + cfg.path,
	}
}

// run scrapes every interval, the first time after a random part of one
// interval so that the collectors of many endpoints spread out.
func (c *collector) run(ctx context.Context) {
	failing := false
	t := time.NewTimer(rand.N(c.cfg.interval) + time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := c.scrape(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			c.log.Warn("model server metrics scrape failing; the endpoint counts as saturated once its metrics are stale",
				"endpoint", c.ep.Addr, "url", c.url, "err", err)
		case err != nil:
			c.log.Debug("model server metrics scrape failed", "endpoint", c.ep.Addr, "err", err)
		case failing:
			failing = false
			c.log.Info("model server metrics scrape recovered", "endpoint", c.ep.Addr)
		}
		t.Reset(max(c.cfg.interval-time.Since(start), time.Millisecond))
	}
}

// scrape fetches and parses the metrics once and publishes them on the
// endpoint, with aimesh's own counters at that moment.
func (c *collector) scrape(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", c.url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("scrape %s: status %d", c.url, resp.StatusCode)
	}
	c.buf, err = readAll(c.buf[:0], io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("scrape %s: %w", c.url, err)
	}
	s, err := Parse(c.cfg.engine, c.buf)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", c.url, err)
	}
	c.ep.State.SetServerStats(&discovery.ServerStats{
		Waiting: s.Waiting, Running: s.Running, KVUsage: s.KVUsage, KVCapacityTokens: s.KVCapacityTokens,
		At:       time.Now(),
		InFlight: c.ep.InFlight.Load(), InFlightTokens: c.ep.State.InFlightTokens.Load(),
	})
	return nil
}

// readAll appends r's content to buf, reusing its capacity across scrapes.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
