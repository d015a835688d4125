package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/examples"
	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/gateway"
)

// target is one way to reach the upstream: directly or through a proxy.
type target struct {
	name    string
	url     string // chat completions URL
	port    int
	cmd     *exec.Cmd // nil for direct
	version string
	// servingPID is the process that serves requests (nginx's worker);
	// cpuTicks and memory are read from it and its descendants.
	servingPID func() int
	logPath    string
	admin      string // aimesh's admin listener, host:port
	floor      bool   // the Go floor (floor.go), not a proxy
}

// pid is the process started (0 for direct).
func (t *target) pid() int {
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

// stop ends the process this bench started, by its pid.
func (t *target) stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.cmd.Process.Kill()
		<-done
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// launcher starts proxy processes pinned to a CPU.
type launcher struct {
	work string // scratch directory
	cpu  int    // -1: no pinning
	// nofile is the open-file limit the proxies inherit.
	nofile uint64
	log    *slog.Logger
}

func (l *launcher) command(env []string, name string, args ...string) *exec.Cmd {
	if l.cpu >= 0 {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", strconv.Itoa(l.cpu), name}, args...)
			name = ts
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// start runs cmd with output to logPath and waits until url answers 200.
func (l *launcher) start(t *target, cmd *exec.Cmd, body []byte) error {
	out, err := os.Create(t.logPath)
	if err != nil {
		return fmt.Errorf("%s log: %w", t.name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", t.name, err)
	}
	out.Close()
	t.cmd = cmd
	if err := waitReady(t.url, body, 15*time.Second); err != nil {
		t.stop()
		return fmt.Errorf("%s not ready (see %s): %w", t.name, t.logPath, err)
	}
	l.log.Info("target ready", "target", t.name, "pid", t.pid(), "url", t.url)
	return nil
}

// waitReady polls url with a chat request until it answers 200.
func waitReady(url string, body []byte, within time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Post(url, "application/json", strings.NewReader(string(body)))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("after %s: %w", within, last)
}

// aimeshConfig is the seed mesh with its model servers moved to the
// upstream's ports, the VirtualGateway on port and the access log in a
// file, like the peers'.
func aimeshConfig(port, up1, up2 int, accessLog string) ([]byte, error) {
	res, errs := config.Decode("seed-mesh.yaml", examples.SeedMesh)
	if len(errs) > 0 {
		return nil, fmt.Errorf("seed mesh: %w", errs.Err())
	}
	for _, vg := range res.VirtualGateways {
		for i := range vg.Spec.Listeners {
			vg.Spec.Listeners[i].PortMapping.Port = v1.PortNumber(port)
		}
		if lg := vg.Spec.Logging; lg != nil && lg.AccessLog != nil && lg.AccessLog.File != nil {
			lg.AccessLog.File.Path = accessLog
		}
	}
	ports := map[string]int{"llm-v1": up1, "llm-v2": up2}
	for _, vn := range res.VirtualNodes {
		p, ok := ports[vn.Name]
		if !ok || vn.Spec.ServiceDiscovery == nil || vn.Spec.ServiceDiscovery.Static == nil {
			continue
		}
		pn := v1.PortNumber(p)
		for j := range vn.Spec.ServiceDiscovery.Static.Endpoints {
			vn.Spec.ServiceDiscovery.Static.Endpoints[j].Port = &pn
		}
	}
	out, err := gateway.ResourcesYAML(res)
	if err != nil {
		return nil, fmt.Errorf("seed mesh yaml: %w", err)
	}
	return out, nil
}

// startAimesh runs `aimesh run` on the seed mesh with GOMAXPROCS=1.
func (l *launcher) startAimesh(bin string, up *upstream, body []byte) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := aimeshConfig(port, up.Port(0), up.Port(1), filepath.Join(l.work, "aimesh-access.log"))
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(l.work, "aimesh.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return nil, fmt.Errorf("write aimesh config: %w", err)
	}
	t := &target{name: "aimesh", port: port, logPath: filepath.Join(l.work, "aimesh.log"), admin: fmt.Sprintf("127.0.0.1:%d", admin),
		url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}
	if v, err := exec.Command(bin, "version").Output(); err == nil {
		t.version = strings.TrimPrefix(strings.TrimSpace(string(v)), "aimesh ")
	}
	if c, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		t.version += " (" + strings.TrimSpace(string(c)) + ")"
	}
	cmd := l.command([]string{"GOMAXPROCS=1"}, bin, "run", "-f", cfgPath, "--no-watch",
		"--listen-address", "127.0.0.1", "--mesh-listen", "", "--admin", t.admin,
		"--drain-timeout", "2s")
	t.servingPID = t.pid
	return t, l.start(t, cmd, body)
}

// ensurePackage installs a Debian package when bin is missing (root only).
func (l *launcher) ensurePackage(ctx context.Context, bin, pkg string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, bin); fileExists(p) {
			return p, nil
		}
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s is not installed and installing %s needs root", bin, pkg)
	}
	l.log.Info("installing", "package", pkg)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		upd := exec.CommandContext(ctx, "apt-get", "update")
		if uout, uerr := upd.CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w: %s", uerr, tail(uout))
		}
		cmd = exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err = cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get install %s: %w: %s", pkg, err, tail(out))
		}
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, bin); fileExists(p) {
			return p, nil
		}
	}
	return "", errors.New(bin + " not found after installing " + pkg)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = "..." + s[len(s)-400:]
	}
	return s
}
