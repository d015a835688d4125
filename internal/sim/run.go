package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Running is a Server listening on a TCP address.
type Running struct {
	*Server
	// URL is the base URL of the server, e.g. "http://127.0.0.1:8000" (no trailing slash).
	URL string
	// Addr is the address it listens on, with the port chosen when port 0 was asked for.
	Addr string

	hs     *http.Server
	cancel context.CancelFunc // cancels every request context
	done   chan struct{}      // closed when Serve returned
	once   sync.Once
}

// Start listens on addr ("host:port"; port 0 picks a free one) and serves a Server built from
// cfg until ctx is done or Close/Shutdown is called. When ctx is done the server closes at
// once, cutting requests in flight; call Shutdown first for a graceful stop.
func Start(ctx context.Context, addr string, cfg Config) (*Running, error) {
	srv, err := NewServer(cfg)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start sim server %q: %w", srv.cfg.Name, err)
	}
	return Serve(ctx, ln, srv), nil
}

// Serve serves srv on ln until ctx is done or Close/Shutdown is called. It takes ownership of ln.
func Serve(ctx context.Context, ln net.Listener, srv *Server) *Running {
	base, cancel := context.WithCancel(context.Background())
	r := &Running{
		Server: srv,
		Addr:   ln.Addr().String(),
		URL:    "http://" + ln.Addr().String(),
		cancel: cancel,
		done:   make(chan struct{}),
		hs: &http.Server{
			Handler:           srv,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
		},
	}
	go func() {
		defer close(r.done)
		if err := r.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.log.Error("sim server stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = r.Close()
		case <-r.done:
		}
	}()
	srv.log.Info("sim server listening", "url", r.URL)
	return r
}

// Close stops the server at once: the listener closes and every request in flight (hung ones
// included) ends. It waits until the server's goroutines are done with the listener.
func (r *Running) Close() error {
	var err error
	r.once.Do(func() {
		r.Server.stopHanging()
		err = r.hs.Close() // connections first, so no handler can answer after this
		r.cancel()
		<-r.done
	})
	return err
}

// Shutdown stops accepting connections and waits for requests in flight to finish until ctx
// is done; then it closes the server as Close does. Hung requests (the hang fault) are ended
// at once since they would never finish.
func (r *Running) Shutdown(ctx context.Context) error {
	r.Server.stopHanging()
	err := r.hs.Shutdown(ctx)
	if cerr := r.Close(); err == nil && !errors.Is(cerr, http.ErrServerClosed) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shutdown sim server %q: %w", r.cfg.Name, err)
	}
	return nil
}

// Cluster is several simulated servers, each with its own state, on consecutive ports.
type Cluster struct {
	Servers []*Running
}

// StartCluster starts one server per config on host, on ports firstPort, firstPort+1, ...;
// with firstPort 0 each server gets its own free port instead. If one fails, those already
// started are closed. ctx bounds the servers' lives as in Start.
func StartCluster(ctx context.Context, host string, firstPort int, cfgs []Config) (*Cluster, error) {
	c := &Cluster{}
	for i, cfg := range cfgs {
		port := 0
		if firstPort != 0 {
			port = firstPort + i
		}
		r, err := Start(ctx, net.JoinHostPort(host, strconv.Itoa(port)), cfg)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("start sim cluster: server %d: %w", i, err)
		}
		c.Servers = append(c.Servers, r)
	}
	return c, nil
}

// URLs returns the base URL of each server, in order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Servers))
	for i, r := range c.Servers {
		urls[i] = r.URL
	}
	return urls
}

// Close closes every server at once.
func (c *Cluster) Close() error {
	var errs []error
	for _, r := range c.Servers {
		if err := r.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops every server gracefully, in parallel, until ctx is done.
func (c *Cluster) Shutdown(ctx context.Context) error {
	errs := make([]error, len(c.Servers))
	var wg sync.WaitGroup
	for i, r := range c.Servers {
		wg.Go(func() { errs[i] = r.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
