package hangup

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const waitFor = 5 * time.Second // bound on how long a hang-up may take to be noticed

func linuxOnly(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("hang-ups are watched on Linux only")
	}
}

func newWatcher() *Watcher {
	return New(slog.New(slog.DiscardHandler))
}

// pair is a loopback TCP connection: server is the side a server would
// watch, client its peer.
type pair struct{ server, client net.Conn }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newPair(t *testing.T, ln net.Listener) pair {
	t.Helper()
	c := dial(t, ln)
	return pair{server: accept(t, ln), client: c}
}

func fdOf(t *testing.T, c net.Conn) int32 {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int32
	raw.Control(func(u uintptr) { fd = int32(u) })
	return fd
}

// watch watches c and returns the handle and a channel closed when gone
// runs; a second run of gone fails the test.
func watch(t *testing.T, w *Watcher, c net.Conn) (Handle, <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{})
	var runs atomic.Int32
	h, ok := w.Watch(c, func() {
		if runs.Add(1) == 1 {
			close(ch)
		} else {
			t.Error("gone ran twice")
		}
	})
	if !ok {
		t.Fatal("Watch: cannot watch a loopback TCP connection")
	}
	return h, ch
}

func waitGone(t *testing.T, gone <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(waitFor):
		t.Fatalf("%s: gone did not run within %v", what, waitFor)
	}
}

func notGone(t *testing.T, gone <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-gone:
		t.Fatalf("%s: gone ran", what)
	default:
	}
}

// sentinel watches a fresh connection, hangs its peer up and waits until
// the watcher reported it: every hang-up pending before then has been
// reported too, so a watch whose gone has not run by now was not hung up.
func sentinel(t *testing.T, w *Watcher, ln net.Listener) {
	t.Helper()
	p := newPair(t, ln)
	_, gone := watch(t, w, p.server)
	p.client.Close()
	waitGone(t, gone, "sentinel")
}

func TestGoneWhenPeerCloses(t *testing.T) {
	linuxOnly(t)
	w, ln := newWatcher(), listen(t)
	p := newPair(t, ln)
	h, gone := watch(t, w, p.server)
	p.client.Close()
	waitGone(t, gone, "peer closed")
	w.Unwatch(h) // after gone ran: a no-op
	w.Unwatch(h)
}

func TestGoneWhenPeerShutsDownWriting(t *testing.T) {
	linuxOnly(t)
	w, ln := newWatcher(), listen(t)
	p := newPair(t, ln)
	h, gone := watch(t, w, p.server)
	defer w.Unwatch(h)
	if err := p.client.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, gone, "peer shut down writing")
}

func TestNotGoneWhileOpen(t *testing.T) {
	linuxOnly(t)
	w, ln := newWatcher(), listen(t)
	p := newPair(t, ln)
	h, gone := watch(t, w, p.server)
	defer w.Unwatch(h)

	// Traffic in both directions is not a hang-up.
	msg := []byte("ping")
	go func() {
		b := make([]byte, len(msg))
		if _, err := io.ReadFull(p.server, b); err == nil {
			p.server.Write(b)
		}
	}()
	if _, err := p.client.Write(msg); err != nil {
		t.Fatal(err)
	}
	p.client.SetReadDeadline(time.Now().Add(waitFor))
	echo := make([]byte, len(msg))
	if _, err := io.ReadFull(p.client, echo); err != nil {
		t.Fatal("echo:", err)
	}
	sentinel(t, w, ln)
	notGone(t, gone, "open connection")

	// It is still watched: hanging up now is noticed.
	p.client.Close()
	waitGone(t, gone, "peer closed after traffic")
}

func TestUnwatchBeforeClose(t *testing.T) {
	linuxOnly(t)
	w, ln := newWatcher(), listen(t)
	p := newPair(t, ln)
	h, gone := watch(t, w, p.server)
	w.Unwatch(h)
	p.client.Close()
	p.server.Close()
	sentinel(t, w, ln)
	notGone(t, gone, "unwatched connection")
}

func TestUnwatchZeroHandle(t *testing.T) {
	w := newWatcher()
	w.Unwatch(Handle{}) // before the epoll instance exists
	if runtime.GOOS == "linux" {
		ln := listen(t)
		p := newPair(t, ln)
		h, _ := watch(t, w, p.server)
		defer w.Unwatch(h)
	}
	w.Unwatch(Handle{})
}

func TestWatchNotSyscallConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := newWatcher()
	h, ok := w.Watch(a, func() { t.Error("gone ran for a pipe") })
	if ok {
		t.Fatal("Watch of a net.Pipe reported ok")
	}
	w.Unwatch(h)
}

// A stale Handle (its watch ended: gone ran, or Unwatch) must not end a
// later watch of a descriptor that got the same number.
func TestStaleHandleKeepsNewWatch(t *testing.T) {
	linuxOnly(t)
	w, ln := newWatcher(), listen(t)

	// The identity check itself: a handle for the same descriptor number
	// but another watch removes nothing.
	p := newPair(t, ln)
	h, gone := watch(t, w, p.server)
	w.Unwatch(Handle{fd: h.fd, e: &entry{gone: func() {}}})
	p.client.Close()
	waitGone(t, gone, "after a forged stale Unwatch")
	w.Unwatch(h)

	// A real reuse. The kernel gives a new descriptor the lowest free
	// number: dial B first (its client socket takes a number), fill every
	// free number below A's server descriptor, then free that descriptor
	// and accept B's server side, which gets A's number.
	a := newPair(t, ln)
	ha, goneA := watch(t, w, a.server)
	fdA := fdOf(t, a.server)
	bClient := dial(t, ln)
	for range 1000 {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if int32(fd) > fdA {
			syscall.Close(fd)
			break
		}
		t.Cleanup(func() { syscall.Close(fd) })
	}
	w.Unwatch(ha)
	a.server.Close()
	bServer := accept(t, ln)
	a.client.Close()
	if fdOf(t, bServer) != fdA {
		t.Skipf("descriptor %d was not reused (got %d); the identity check was tested above", fdA, fdOf(t, bServer))
	}
	hb, goneB := watch(t, w, bServer)
	defer w.Unwatch(hb)
	if ha.fd != hb.fd {
		t.Fatalf("handles for descriptor %d: %d and %d", fdA, ha.fd, hb.fd)
	}
	w.Unwatch(ha) // stale: must leave B watched
	bClient.Close()
	waitGone(t, goneB, "new watch after a stale Unwatch")
	notGone(t, goneA, "unwatched old connection")
}
