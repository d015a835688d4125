package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// buildDemoBinary builds cmd/aimesh once per test run.
var demoBin struct {
	once sync.Once
	path string
	err  error
}

func aimeshBinary(t *testing.T) string {
	t.Helper()
	demoBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "aimesh-bin-")
		if err != nil {
			demoBin.err = err
			return
		}
		demoBin.path = filepath.Join(dir, "aimesh")
		out, err := exec.Command("go", "build", "-o", demoBin.path, ".").CombinedOutput()
		if err != nil {
			demoBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if demoBin.err != nil {
		t.Fatal(demoBin.err)
	}
	return demoBin.path
}

// TestDemoAsAUserRunsIt starts `aimesh demo` as a process, reads the URL it
// prints, sends streaming and non-streaming chat requests through it, sees
// both versions answer in about the 90/10 split, and stops it with Ctrl-C.
func TestDemoAsAUserRunsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := aimeshBinary(t)
	p := freePorts(t, 3)
	// --sim-port 0: each simulated server takes its own free port.
	cmd := exec.Command(bin, "demo",
		"--port", fmt.Sprint(p[0]), "--sim-port", "0",
		"--admin", fmt.Sprintf("127.0.0.1:%d", p[1]), "--mesh-listen", fmt.Sprintf("127.0.0.1:%d", p[2]),
		"--time-scale", "0.05", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})

	// The banner names the gateway URL; read until the curl lines.
	urlRe := regexp.MustCompile(`gateway\s+(http://\S+)`)
	var url string
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	for sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
		if strings.Contains(sc.Text(), "curl -sN") {
			break
		}
	}
	deadline.Stop()
	go io.Copy(io.Discard, stdout)
	if url == "" {
		t.Fatalf("demo printed no gateway URL; stderr:\n%s", stderr.String())
	}

	client := &http.Client{Timeout: 30 * time.Second}
	// Streaming: SSE chunks and [DONE].
	resp, err := client.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"llama-3.1-8b-instruct","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") ||
		!strings.Contains(string(body), "data: [DONE]") || strings.Count(string(body), "data: {") < 5 {
		t.Fatalf("streaming request: status %d, content type %q, body:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// Non-streaming, many times, concurrently: count versions.
	const n = 400
	var mu sync.Mutex
	counts := map[string]int{}
	var failures []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Post(url+"/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"llama-3.1-8b-instruct","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}`))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"usage"`) {
				failures = append(failures, fmt.Sprintf("status %d: %s", resp.StatusCode, b))
				return
			}
			counts[resp.Header.Get("X-Sim-Version")]++
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, first: %s", len(failures), n, failures[0])
	}
	// 10% canary: binomial sd = sqrt(n*0.1*0.9) = 6; allow 5 sd.
	if counts["v1"]+counts["v2"] != n {
		t.Fatalf("versions seen: %v", counts)
	}
	if d := math.Abs(float64(counts["v2"]) - 0.1*n); d > 5*math.Sqrt(n*0.1*0.9) {
		t.Fatalf("v2 answered %d of %d requests; want about 10%% (%v)", counts["v2"], n, counts)
	}

	// Ctrl-C: clean exit.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exited with %v after Ctrl-C; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not exit within 20s of Ctrl-C")
	}
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
