package fastlane

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aimesh/aimesh/internal/hangup"
)

// Server serves HTTP/1.1 connections in the fast lane and hands the rest
// to HandOff.
type Server struct {
	Handler http.Handler
	// HandOff serves a connection the fast lane will not, from its start
	// (ahead is what was read of it). It reports whether it took c; if
	// not, c is closed. Required.
	HandOff func(c net.Conn, ahead []byte) bool
	// ReadHeaderTimeout bounds a request head that arrives in pieces;
	// IdleTimeout a connection between requests.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// Hangups, when set, watches the clients of requests that run longer
	// than a quarter second, to cancel them when the client hangs up.
	Hangups *hangup.Watcher
	Log     *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	draining atomic.Bool
	emptied  chan struct{} // closed when the last connection ends while draining
	sweeping bool
	stop     chan struct{}
}

// sweepEvery is how often running requests are checked for a client to
// watch, and so the least a request runs before its client is watched.
const sweepEvery = 250 * time.Millisecond

// Serve accepts connections on ln until Shutdown or Close, or until ln
// fails for good.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.init()
	if s.draining.Load() { // shut down before it started
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.draining.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log().Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.ServeConn(nc, nil) {
			nc.Close()
		}
	}
}

func (s *Server) init() {
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
		s.emptied = make(chan struct{})
		s.stop = make(chan struct{})
	}
}

// ServeConn serves nc (ahead: what was already read of it) in a goroutine
// of its own. It reports false, leaving nc alone, once the server drains.
func (s *Server) ServeConn(nc net.Conn, ahead []byte) bool {
	c := newConn(s, nc, ahead)
	s.mu.Lock()
	s.init()
	if s.draining.Load() {
		s.mu.Unlock()
		c.release()
		return false
	}
	s.conns[c] = struct{}{}
	if !s.sweeping && s.Hangups != nil {
		s.sweeping = true
		go s.sweep()
	}
	s.mu.Unlock()
	go c.serve()
	return true
}

// forget drops c from the connections Shutdown waits for.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.draining.Load() {
		select {
		case <-s.emptied:
		default:
			close(s.emptied)
		}
	}
}

// Shutdown stops accepting, closes idle connections, lets running
// requests finish (their responses say Connection: close) and returns
// when none is left, or closes what is left when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopLocked()
	for c := range s.conns {
		c.poke()
	}
	if len(s.conns) == 0 {
		select {
		case <-s.emptied:
		default:
			close(s.emptied)
		}
	}
	emptied := s.emptied
	s.mu.Unlock()
	select {
	case <-emptied:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.stopLocked()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	return nil
}

// stopLocked marks the server draining, closes its listener and stops
// the sweeper; s.mu is held.
func (s *Server) stopLocked() {
	s.init()
	s.draining.Store(true)
	if s.ln != nil {
		s.ln.Close()
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
}

// sweep watches the clients of requests running longer than sweepEvery.
func (s *Server) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			for c := range s.conns {
				c.watchIfLong(now)
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
