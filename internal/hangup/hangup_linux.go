//go:build linux

package hangup

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
)

// Watcher watches client sockets for a peer hang-up (EPOLLRDHUP, EPOLLHUP
// or EPOLLERR) with one epoll instance, so a watched connection costs no
// goroutine and no buffer. The epoll descriptor is itself waited on
// through Go's poller (it is readable while events are pending) and read
// with a timeout of 0: no thread ever blocks in epoll_wait, which with
// GOMAXPROCS=1 would hold the only P until the runtime's monitor took it
// back, stalling every request meanwhile.
type Watcher struct {
	mu    sync.Mutex
	epfd  int
	file  *os.File         // epfd, for Go's poller
	fds   map[int32]*entry // guarded by mu
	start sync.Once
	log   *slog.Logger
}

// New returns a Watcher; its epoll instance is created at the first Watch.
func New(log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{epfd: -1, fds: map[int32]*entry{}, log: log}
}

// Watch starts watching c, which must implement syscall.Conn. gone is
// called once, when the peer hangs up, from the watcher's goroutine and
// with its lock held: it must be quick and must not call Watch or Unwatch.
// ok is false when c cannot be watched (it is not a syscall.Conn, or epoll
// is unavailable): the caller then just is not notified. Otherwise the
// caller must call Unwatch with h before c is closed or handed to someone
// else.
func (w *Watcher) Watch(c net.Conn, gone func()) (h Handle, ok bool) {
	w.start.Do(w.open)
	if w.epfd < 0 {
		return Handle{}, false
	}
	sc, isSC := c.(syscall.Conn)
	if !isSC {
		return Handle{}, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return Handle{}, false
	}
	e := &entry{gone: gone}
	raw.Control(func(fd uintptr) {
		w.mu.Lock()
		defer w.mu.Unlock()
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP, Fd: int32(fd)} // level-triggered: removed at its first event
		if syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) == nil {
			w.fds[int32(fd)] = e
			h, ok = Handle{fd: int32(fd), e: e}, true
		}
	})
	return h, ok
}

// Unwatch stops the watch h; call it while the connection is still open.
// It is safe to call for a Handle whose gone already ran and for the zero
// Handle. A Handle never removes a later watch of a descriptor that got
// the same number.
func (w *Watcher) Unwatch(h Handle) {
	if h.e == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fds[h.fd] == h.e {
		delete(w.fds, h.fd)
		syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(h.fd), nil)
	}
}

// open creates the epoll instance and starts its goroutine; on failure
// epfd stays -1 and nothing is watched.
func (w *Watcher) open() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	var raw syscall.RawConn
	if err == nil {
		f := os.NewFile(uintptr(fd), "hangup-epoll")
		raw, err = f.SyscallConn()
		w.file = f
	}
	if err != nil {
		w.log.Warn("cannot watch clients for hang-ups; a client that leaves is noticed at the next event", "err", err)
		return
	}
	w.epfd = fd
	go w.loop(raw)
}

func (w *Watcher) loop(raw syscall.RawConn) {
	events := make([]syscall.EpollEvent, 64)
	for {
		var (
			n   int
			err error
		)
		rerr := raw.Read(func(fd uintptr) bool {
			for {
				n, err = syscall.EpollWait(int(fd), events, 0)
				if err != syscall.EINTR {
					break
				}
			}
			return n > 0 || err != nil // nothing pending: wait until the descriptor is readable
		})
		if rerr != nil {
			err = rerr
		}
		if err != nil {
			w.log.Error("watching clients for hang-ups stopped", "err", err)
			return
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
				continue
			}
			if e := w.fds[ev.Fd]; e != nil {
				delete(w.fds, ev.Fd)
				syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(ev.Fd), nil)
				e.gone()
			}
		}
		w.mu.Unlock()
	}
}
