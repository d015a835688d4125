package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHost is a network namespace joined to the host by a veth pair: a
// machine of its own, with an address EndpointSlices accept, that only this
// machine can reach.
type TestHost struct {
	// Name is the network namespace (usable with `ip netns exec`).
	Name string
	// Addr is the namespace side of the link (198.18.N.2 or 198.19.N.2):
	// where servers listen and what EndpointSlices list.
	Addr netip.Addr
	// HostAddr is the host side of the link (198.18.N.1 or 198.19.N.1).
	HostAddr netip.Addr

	link string // host-side veth
}

// testHostSlots is how many /30 links fit in 198.18.0.0/15 at one per
// third octet: 198.18.0-255.x and 198.19.0-255.x.
const testHostSlots = 512

var nsNameClean = regexp.MustCompile(`[^a-z0-9-]+`)

// NewTestHost creates a network namespace and a veth pair for the test,
// with host side N.1/30 and namespace side N.2/30 in 198.18.0.0/15, N
// unique on the machine, and removes both when the test ends. It skips t
// when not root or when `ip` (iproute2, `hack/tools.sh kube`) is missing.
func NewTestHost(t testing.TB, name string) *TestHost {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "kubeenv: test hosts need root (network namespaces); run the tests as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "kubeenv: test hosts need iproute2's `ip` (not in PATH); install with `%s` or `apt-get install iproute2`", InstallCommand)
	}
	h, err := createTestHost(name)
	if err != nil {
		t.Fatalf("kubeenv: test host %q: %v", name, err)
	}
	t.Cleanup(func() {
		if err := h.remove(); err != nil {
			t.Errorf("kubeenv: remove test host %s: %v", h.Name, err)
		}
	})
	return h
}

// createTestHost picks a free slot and builds the link while holding a
// machine-wide lock, so test binaries running side by side never collide.
func createTestHost(name string) (*TestHost, error) {
	unlock, err := lockFile(filepath.Join(lockDir(), "aimesh-testhost.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	removeStaleTestHosts()
	used, err := usedSlots()
	if err != nil {
		return nil, err
	}
	slot := -1
	for n := range testHostSlots {
		if !used[n] {
			slot = n
			break
		}
	}
	if slot < 0 {
		return nil, fmt.Errorf("all %d test host addresses in 198.18.0.0/15 are in use", testHostSlots)
	}
	clean := strings.Trim(nsNameClean.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(clean) > 32 {
		clean = clean[:32]
	}
	h := &TestHost{
		Name:     fmt.Sprintf("aimesh-%d-%d-%s", os.Getpid(), slot, clean),
		Addr:     slotAddr(slot, 2),
		HostAddr: slotAddr(slot, 1),
		link:     fmt.Sprintf("amh%d", slot),
	}
	peer := fmt.Sprintf("amn%d", slot)
	steps := [][]string{
		{"netns", "add", h.Name},
		{"link", "add", h.link, "type", "veth", "peer", "name", peer, "netns", h.Name},
		{"addr", "add", h.HostAddr.String() + "/30", "dev", h.link},
		{"link", "set", h.link, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
		{"-n", h.Name, "addr", "add", h.Addr.String() + "/30", "dev", peer},
		{"-n", h.Name, "link", "set", peer, "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			_ = h.remove()
			return nil, err
		}
	}
	return h, nil
}

// slotAddr returns 198.18.0.0/15's address N.host for slot N.
func slotAddr(slot, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, byte(18 + slot/256), byte(slot % 256), byte(host)})
}

// usedSlots reads which slots' host-side addresses exist in this namespace.
func usedSlots() (map[int]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	bench := netip.MustParsePrefix("198.18.0.0/15")
	used := map[int]bool{}
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil || !bench.Contains(pfx.Addr()) {
			continue
		}
		b := pfx.Addr().As4()
		used[int(b[1]-18)*256+int(b[2])] = true
	}
	return used, nil
}

// removeStaleTestHosts deletes namespaces left by test binaries that died
// before their cleanup ran (the name carries the owner's pid).
func removeStaleTestHosts() {
	entries, _ := os.ReadDir("/run/netns")
	for _, ent := range entries {
		parts := strings.SplitN(ent.Name(), "-", 4)
		if len(parts) < 3 || parts[0] != "aimesh" {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = ip("link", "del", "amh"+parts[2])
			_ = ip("netns", "del", ent.Name())
		}
	}
}

// remove deletes the link (and with it the peer) and the namespace. Close
// listeners first: an open socket keeps a namespace alive.
func (h *TestHost) remove() error {
	var errs []error
	if err := ip("link", "del", h.link); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	if err := ip("netns", "del", h.Name); err != nil && !strings.Contains(err.Error(), "No such file") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Do runs fn on an OS thread switched into the test host's namespace, so
// sockets fn creates belong to the test host. Goroutines fn starts run in
// the host's namespace, not the test host's.
func (h *TestHost) Do(fn func() error) error {
	ns, err := os.Open(filepath.Join("/run/netns", h.Name))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", h.Name, err)
	}
	defer ns.Close()
	errc := make(chan error, 1)
	// A fresh goroutine: if switching back fails it exits still locked,
	// and the runtime discards its thread instead of reusing it.
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", h.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", h.Name, err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Listen opens a TCP listener on Addr:port inside the test host (port 0
// picks a free one) and closes it when the test ends.
func (h *TestHost) Listen(t testing.TB, port int) net.Listener {
	t.Helper()
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(h.Addr, uint16(port)).String())
		return err
	})
	if err != nil {
		t.Fatalf("kubeenv: listen in test host %s: %v", h.Name, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Serve serves handler over HTTP on Addr:port inside the test host and
// returns its base URL, http://ADDR:PORT. The server closes when the test
// ends.
func (h *TestHost) Serve(t testing.TB, port int, handler http.Handler) string {
	t.Helper()
	ln := h.Listen(t, port)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// Command returns a command that runs name inside the test host
// (`ip netns exec`), for servers that are separate programs.
func (h *TestHost) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Port returns the port of a listener's TCP address.
func Port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func lockDir() string {
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock"
	}
	return os.TempDir()
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
