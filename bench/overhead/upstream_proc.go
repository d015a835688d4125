package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The upstream runs in a child process of its own (this binary with
// -serve-upstream): the open-file limit may be too low for one process to
// hold both ends of ten thousand streams, and its CPU stays apart from the
// load generator's in /proc.

// upstreamFlag makes the binary serve as the upstream.
const upstreamFlag = "-serve-upstream"

// serveUpstream is the child's main: it prints "ports P1 P2", then answers
// "streams" lines on stdin with the number of open event streams, and
// exits when stdin closes.
func serveUpstream(n int) int {
	u, err := listenUpstream(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer u.Close()
	ports := make([]string, len(u.lns))
	for i, ln := range u.lns {
		ports[i] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	fmt.Printf("ports %s\n", strings.Join(ports, " "))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "streams" {
			fmt.Printf("%d\n", u.streams.Load())
		}
	}
	return 0
}

// upstream is the parent's handle on the upstream process.
type upstream struct {
	cmd   *exec.Cmd
	ports []int
	mu    sync.Mutex
	in    *os.File
	out   *bufio.Reader
}

// startUpstream starts the upstream process with n ports.
func startUpstream(n int) (*upstream, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	cmd := exec.Command(self, upstreamFlag, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start upstream: %w", err)
	}
	u := &upstream{cmd: cmd, in: stdin.(*os.File), out: bufio.NewReader(stdout)}
	line, err := u.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != n+1 || f[0] != "ports" {
		u.Close()
		return nil, fmt.Errorf("upstream said %q: %w", line, err)
	}
	for _, p := range f[1:] {
		port, err := strconv.Atoi(p)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("upstream port %q: %w", p, err)
		}
		u.ports = append(u.ports, port)
	}
	return u, nil
}

// Port is the i-th port.
func (u *upstream) Port(i int) int { return u.ports[i] }

// Addr is the i-th address.
func (u *upstream) Addr(i int) string { return "127.0.0.1:" + strconv.Itoa(u.ports[i]) }

// Streams is the number of event streams the upstream holds open (-1 when
// it cannot tell).
func (u *upstream) Streams() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, err := u.in.WriteString("streams\n"); err != nil {
		return -1
	}
	line, err := u.out.ReadString('\n')
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return -1
	}
	return n
}

// Close stops the upstream process: stdin closes, then SIGKILL after 5s.
func (u *upstream) Close() {
	u.in.Close()
	done := make(chan struct{})
	go func() { u.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.cmd.Process.Kill()
		<-done
	}
}
