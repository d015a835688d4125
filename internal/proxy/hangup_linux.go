//go:build linux

package proxy

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
)

// hangups notices clients of relayed streams that hang up while their
// stream is quiet: a model server that queues a request sends its headers
// at once and its first token much later, and a client gone meanwhile
// should free the upstream (and its queue slot) then, not at the first
// token. One epoll instance watches every relayed client socket for a
// peer hang-up (EPOLLRDHUP), so a stream costs no goroutine and no buffer
// for it. The epoll descriptor is itself waited on through Go's poller
// (it is readable while events are pending) and read with a timeout of
// 0: no thread ever blocks in epoll_wait, which with GOMAXPROCS=1 would
// hold the only P until the runtime's monitor took it back, stalling
// every request meanwhile.
type hangups struct {
	mu    sync.Mutex
	epfd  int
	file  *os.File // epfd, for Go's poller
	fds   map[int32]*Stream
	start sync.Once
	log   *slog.Logger
}

func newHangups(log *slog.Logger) *hangups {
	return &hangups{epfd: -1, fds: map[int32]*Stream{}, log: log}
}

// watch starts watching s's client connection; it reports whether it
// could (the stream then must call unwatch before the connection is
// closed or given back).
func (h *hangups) watch(s *Stream, c net.Conn) bool {
	h.start.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err == nil {
			err = syscall.SetNonblock(fd, true)
		}
		var raw syscall.RawConn
		if err == nil {
			f := os.NewFile(uintptr(fd), "hangups-epoll")
			raw, err = f.SyscallConn()
			h.file = f
		}
		if err != nil {
			h.log.Warn("cannot watch streaming clients for hang-ups; a client that leaves is noticed at the next event", "err", err)
			return
		}
		h.epfd = fd
		go h.loop(raw)
	})
	if h.epfd < 0 {
		return false
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	added := false
	raw.Control(func(fd uintptr) {
		h.mu.Lock()
		defer h.mu.Unlock()
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP, Fd: int32(fd)} // level-triggered: removed at its first event
		if syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) == nil {
			h.fds[int32(fd)] = s
			s.watchedFD = int32(fd)
			added = true
		}
	})
	return added
}

// unwatch stops watching s's client connection; call it while the
// connection is still open.
func (h *hangups) unwatch(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fds[s.watchedFD] == s {
		delete(h.fds, s.watchedFD)
		syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, int(s.watchedFD), nil)
	}
}

func (h *hangups) loop(raw syscall.RawConn) {
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
			h.log.Error("watching streaming clients for hang-ups stopped", "err", err)
			return
		}
		h.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
				continue
			}
			if s := h.fds[ev.Fd]; s != nil {
				delete(h.fds, ev.Fd)
				syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, int(ev.Fd), nil)
				s.clientGone()
			}
		}
		h.mu.Unlock()
	}
}
