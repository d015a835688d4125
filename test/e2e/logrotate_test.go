package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPReopensAccessLogs runs `aimesh run`, rotates its access log the
// way logrotate does without copytruncate (rename, then SIGHUP) and checks
// that lines logged before the signal are in the rotated file and lines
// after it in a new file at the configured path.
func TestSIGHUPReopensAccessLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the aimesh binary")
	}
	bin := aimeshBinary(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	gwPort, adminPort := freePort(t), freePort(t)
	cfg := meshAndNode(up) + fmt.Sprintf(`apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: chat.local}
spec: {provider: {virtualNode: {virtualNodeName: llm}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualGateway
metadata: {name: gw}
spec:
  listeners: [{portMapping: {port: %[1]d, protocol: http}}]
  logging:
    accessLog:
      file:
        path: %[2]s
        format: {text: "%%REQ(:PATH)%% %%RESPONSE_CODE%%\n"}
---
apiVersion: aimesh.io/v1alpha1
kind: GatewayRoute
metadata: {name: all}
spec:
  httpRoute:
    match: {prefix: /}
    action: {target: {virtualService: {virtualServiceName: chat.local}}}
`, gwPort, logPath)
	cfgPath := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "-f", cfgPath, "--admin", "127.0.0.1:"+strconv.Itoa(adminPort),
		"--mesh-listen", "", "--listen-address", "127.0.0.1", "--drain-timeout", "2s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("aimesh output:\n%s", logs.String())
		}
	})
	waitFor(t, 20*time.Second, "/readyz 200", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(adminPort) + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	get := func(path string) {
		t.Helper()
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(gwPort) + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	lines := func(path string) string {
		b, _ := os.ReadFile(path)
		return strings.TrimSpace(string(b))
	}
	get("/before")
	waitFor(t, 10*time.Second, "the first line in the access log", func() bool { return lines(logPath) == "/before 200" })
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new file at the access log path after SIGHUP", func() bool {
		_, err := os.Stat(logPath)
		return err == nil
	})
	get("/after")
	waitFor(t, 10*time.Second, "the second line in the new access log", func() bool { return lines(logPath) == "/after 200" })
	if got := lines(rotated); got != "/before 200" {
		t.Errorf("rotated file holds %q, want only the line logged before SIGHUP", got)
	}
}
