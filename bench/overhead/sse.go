package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// sseResult is the memory an idle event stream costs a target.
type sseResult struct {
	streams    int   // streams open at the measurement
	rssBefore  int64 // KiB, serving process
	rssAfter   int64 // KiB
	perStream  float64
	openFailed int
	firstErr   string
	openTime   time.Duration
}

// sseMemory opens n event streams through t (the upstream sends one event
// and then idles), waits for the target to settle, and reports the serving
// process's RSS growth per stream. Streams are opened by `workers`
// goroutines; the whole run is bounded by within.
func sseMemory(ctx context.Context, log *slog.Logger, t *target, up *upstream, body []byte, n, workers int, within, hold time.Duration) (*sseResult, error) {
	pid := t.servingPID()
	res := &sseResult{rssBefore: statusKB(pid, "VmRSS")}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	req := []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:" + strconv.Itoa(t.port) +
		"\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
	conns := make([]net.Conn, n)
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := range next {
				c, err := openStream(ctx, t.port, req, buf)
				if err != nil {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	res.openTime = time.Since(start)
	res.openFailed = failed
	if firstErr != nil {
		res.firstErr = firstErr.Error()
	}
	for _, c := range conns {
		if c != nil {
			res.streams++
		}
	}
	// Let the proxy finish allocating and the upstream see every stream.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	res.rssAfter = statusKB(pid, "VmRSS")
	if res.streams > 0 {
		res.perStream = float64(res.rssAfter-res.rssBefore) * 1024 / float64(res.streams)
	}
	log.Info("sse streams", "target", t.name, "open", res.streams, "failed", failed, "upstream_streams", up.Streams(),
		"rss_before_kib", res.rssBefore, "rss_after_kib", res.rssAfter, "bytes_per_stream", int(res.perStream), "first_error", res.firstErr)
	if hold > 0 {
		log.Info("holding the streams open", "for", hold)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
	}
	if res.streams == 0 {
		return res, fmt.Errorf("%s: no stream opened: %s", t.name, res.firstErr)
	}
	return res, nil
}

var errNoEvent = errors.New("connection closed before the first event")

// openStream sends a streaming chat request and reads until the first
// event arrives; the connection is left open and unread.
func openStream(ctx context.Context, port int, req, buf []byte) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, fmt.Errorf("write: %w", err)
	}
	got := 0
	for {
		n, err := c.Read(buf[got:])
		got += n
		if bytes.Contains(buf[:got], []byte("data: ")) {
			break
		}
		if err != nil || got == len(buf) {
			c.Close()
			if err == nil {
				err = errNoEvent
			}
			return nil, fmt.Errorf("read first event: %w", err)
		}
	}
	if !bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 200")) {
		c.Close()
		line, _, _ := bytes.Cut(buf[:got], []byte("\r\n"))
		return nil, fmt.Errorf("status: %s", line)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// waitStreamsClosed waits until the upstream has no open stream left.
func waitStreamsClosed(up *upstream, within time.Duration) {
	deadline := time.Now().Add(within)
	for up.Streams() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}
