package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// aimeshBinary builds ./cmd/aimesh once per test run.
func aimeshBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aimesh-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "aimesh")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, "../../cmd/aimesh").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a subprocess's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// meshAndNode is the YAML of the Mesh ai-mesh and the VirtualNode llm
// whose one endpoint is up, ending with a document separator.
func meshAndNode(up *httptest.Server) string {
	host, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	return fmt.Sprintf(`apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: ai-mesh}
spec: {egressFilter: {type: DROP_ALL}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: llm}
spec:
  listeners: [{portMapping: {port: %[2]s, protocol: http}}]
  serviceDiscovery: {static: {endpoints: [{address: %[1]s, port: %[2]s}]}}
---
`, host, port)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSIGTERMDrainsStreams runs `aimesh run` as a subprocess, opens
// streaming requests (mesh and VirtualGateway listeners) to an upstream
// that holds them open, and sends SIGTERM: /readyz turns 503, new
// connections are refused, every open stream still completes with [DONE]
// once the upstream finishes, and the process exits 0.
func TestSIGTERMDrainsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the aimesh binary")
	}
	bin := aimeshBinary(t)
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"chunk\":1}\n\n")
		http.NewResponseController(w).Flush()
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		for i := 2; i <= 4; i++ {
			fmt.Fprintf(w, "data: {\"chunk\":%d}\n\n", i)
			http.NewResponseController(w).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(up.Close)

	gwPort, meshPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := meshAndNode(up) + fmt.Sprintf(`apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: chat.local}
spec: {provider: {virtualRouter: {virtualRouterName: r}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualRouter
metadata: {name: r}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
    - name: chat
      httpRoute:
        match: {prefix: /v1/, model: {exact: llama}}
        action: {weightedTargets: [{virtualNode: llm, weight: 1}]}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec:
  listeners: [{portMapping: {port: %[1]d, protocol: http}}]
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: all}
spec:
  httpRoute:
    match: {prefix: /}
    action: {target: {virtualService: {virtualServiceName: chat.local}}}
`, gwPort)
	cfgPath := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	meshAddr := "127.0.0.1:" + strconv.Itoa(meshPort)
	gwAddr := "127.0.0.1:" + strconv.Itoa(gwPort)
	admin := "http://127.0.0.1:" + strconv.Itoa(adminPort)
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "-f", cfgPath, "--admin", "127.0.0.1:"+strconv.Itoa(adminPort),
		"--mesh-listen", meshAddr, "--listen-address", "127.0.0.1", "--drain-timeout", "30s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the process is gone
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("aimesh (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("aimesh output:\n%s", logs.String())
		}
	})

	readyz := func() int {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, 20*time.Second, "/readyz 200", func() bool { return readyz() == 200 })

	// Open the streams, each on its own connection.
	const perListener = 3
	type result struct {
		body string
		err  error
	}
	results := make(chan result, 2*perListener)
	for _, addr := range []string{meshAddr, gwAddr} {
		for i := 0; i < perListener; i++ {
			go func() {
				tr := &http.Transport{DisableKeepAlives: true}
				defer tr.CloseIdleConnections()
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
					strings.NewReader(`{"model":"llama","stream":true,"messages":[]}`))
				req.Host = "chat.local"
				resp, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Do(req)
				if err != nil {
					results <- result{err: err}
					return
				}
				defer resp.Body.Close()
				var b strings.Builder
				_, err = io.Copy(&b, bufio.NewReader(resp.Body))
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				results <- result{b.String(), err}
			}()
		}
	}
	for i := 0; i < 2*perListener; i++ {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d streams reached the upstream", i, 2*perListener)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "/readyz 503 while draining", func() bool { return readyz() == http.StatusServiceUnavailable })
	for _, addr := range []string{meshAddr, gwAddr} {
		waitFor(t, 10*time.Second, "new connections to "+addr+" refused", func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return true
			}
			c.Close()
			return false
		})
	}
	select {
	case <-exited:
		t.Fatalf("aimesh exited (%v) while streams were open", waitErr)
	case r := <-results:
		t.Fatalf("a stream ended before the upstream finished it: %q, %v", r.body, r.err)
	default:
	}

	releaseAll()
	for i := 0; i < 2*perListener; i++ {
		select {
		case r := <-results:
			if r.err != nil || !strings.Contains(r.body, `{"chunk":4}`) || !strings.HasSuffix(r.body, "data: [DONE]\n\n") {
				t.Errorf("stream %d was cut: %v\n%s", i, r.err, r.body)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("stream %d did not finish", i)
		}
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("aimesh exited with %v, want 0", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aimesh did not exit after draining")
	}
	if out := logs.String(); !strings.Contains(out, "stopped") || strings.Contains(out, "drain incomplete") {
		t.Errorf("unexpected shutdown log:\n%s", out)
	}
}
