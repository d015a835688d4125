package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fixedResponse is what the benchmark upstream answers to every request.
func fixedResponse() []byte {
	body := strings.Repeat("x", 1<<10)
	return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// serveFixed is a minimal keep-alive upstream: it answers every request
// head on ln with the same 1 KiB response, so that a benchmark measures
// the client.
func serveFixed(ln net.Listener) {
	resp := fixedResponse()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				for { // one request head: lines up to an empty one
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}()
	}
}

const upstreamEnv = "H1_BENCH_UPSTREAM"

// TestUpstreamProcess is the benchmark upstream when run as a child
// process (upstreamEnv set): it prints its address and serves until its
// stdin closes. Otherwise it does nothing.
func TestUpstreamProcess(t *testing.T) {
	if os.Getenv(upstreamEnv) == "" {
		t.Skip("the benchmark's upstream process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr())
	go serveFixed(ln)
	io.Copy(io.Discard, os.Stdin)
	ln.Close()
}

// fixedUpstream starts the benchmark upstream in a child process, so that
// the process CPU time measured is the client's alone, and returns its
// address. Where that fails, it runs in this process.
func fixedUpstream(b *testing.B) (addr string, separate bool) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestUpstreamProcess$")
	cmd.Env = append(os.Environ(), upstreamEnv+"=1")
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	if err1 == nil && err2 == nil && cmd.Start() == nil {
		b.Cleanup(func() { stdin.Close(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil {
			return strings.TrimSpace(line), true
		}
		cmd.Process.Kill()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go serveFixed(ln)
	return ln.Addr().String(), false
}

// BenchmarkRoundTrip compares this Client with http.Transport (set up as
// proxy.Pools does) on the same upstream: one GET and its 1 KiB body per
// op, over one keep-alive connection.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./internal/proxy/h1/
func BenchmarkRoundTrip(b *testing.B) {
	addr, separate := fixedUpstream(b)
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transports := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1", &Client{}},
		{"http.Transport", &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     4 << 10,
			ReadBufferSize:      4 << 10,
		}},
	}
	for _, ctxKind := range []string{"background", "cancel"} {
		for _, tr := range transports {
			b.Run(ctxKind+"/"+tr.name, func(b *testing.B) {
				ctx := context.Background()
				if ctxKind == "cancel" {
					c, cancel := context.WithCancel(ctx)
					defer cancel()
					ctx = c
				}
				req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/models", nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer sk-test")
				req.Header.Set("X-Request-Id", "0123456789abcdef")
				roundTrip(b, tr.rt, req) // dial outside the timed loop
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPU()
				for b.Loop() {
					roundTrip(b, tr.rt, req)
				}
				b.StopTimer()
				if cpu := processCPU() - cpu; cpu > 0 && separate {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
				tr.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			})
		}
	}
}

func roundTrip(b *testing.B, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != 1<<10 {
		b.Fatalf("body: %d bytes, %v", n, err)
	}
	resp.Body.Close()
}
