package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/aimesh/aimesh/internal/sockio"
)

// The Go floor is the least a proxy written in Go can do per request with
// the standard library: a goroutine per client connection, its own
// keep-alive connection to one upstream, each request's bytes read up to
// the end of its Content-Length body and written to the upstream
// unchanged, the response likewise back. No routing, no header rewriting,
// no pool, no log, no metrics. It is measured like the proxies (one
// thread, GOMAXPROCS=1) so that aimesh can be compared with what its
// language's runtime and the kernel cost on this machine before any proxy
// logic, and nginx with that.

// floorFlag makes the binary serve as the Go floor.
const floorFlag = "-serve-floor"

// floorName is the floor's target name.
const floorName = "go-floor"

// serveFloor is the floor's main: it listens on 127.0.0.1:port and relays
// to upstream, with raw system calls when raw is set.
func serveFloor(port, upstream string, raw bool) int {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if raw {
			go relayFloorRaw(c, upstream)
		} else {
			go relayFloor(c, upstream)
		}
	}
}

func relayFloor(c net.Conn, upstream string) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	cr, ur := bufio.NewReaderSize(c, 4096), bufio.NewReaderSize(up, 4096)
	var req, resp []byte
	for {
		if req, err = readMessage(cr, req[:0]); err != nil {
			return
		}
		if _, err = up.Write(req); err != nil {
			return
		}
		if resp, err = readMessage(ur, resp[:0]); err != nil {
			return
		}
		if _, err = c.Write(resp); err != nil {
			return
		}
	}
}

// contentLength is the value of line when it is a Content-Length field.
func contentLength(line []byte) (string, bool) {
	k, v, ok := bytes.Cut(line, []byte{':'})
	if !ok || !bytes.EqualFold(k, []byte("Content-Length")) {
		return "", false
	}
	return string(bytes.TrimSpace(v)), true
}

var errNoLength = errors.New("message without a Content-Length (the floor relays no other framing)")

// readMessage appends one HTTP/1.1 message (head and Content-Length body)
// from br to out.
func readMessage(br *bufio.Reader, out []byte) ([]byte, error) {
	cl := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
		if len(line) <= 2 {
			break
		}
		if v, ok := contentLength(line); ok {
			if cl, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("content-length: %w", err)
			}
		}
	}
	if cl < 0 {
		return nil, errNoLength
	}
	n := len(out)
	out = append(out, make([]byte, cl)...)
	if _, err := io.ReadFull(br, out[n:]); err != nil {
		return nil, err
	}
	return out, nil
}

// startFloor runs this binary as the Go floor named name (floorName or
// floorRawName), relaying to the upstream's first port, with
// GOMAXPROCS=1.
func (l *launcher) startFloor(name string, up *upstream, body []byte) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t := &target{name: name, port: port, logPath: filepath.Join(l.work, name+".log"), floor: true,
		url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}
	cmd := l.command([]string{"GOMAXPROCS=1"}, self, floorFlag, strconv.Itoa(port), up.Addr(0), name)
	t.servingPID = t.pid
	return t, l.start(t, cmd, body)
}

// floorRawName is the floor that makes every read and write a raw
// system call: the client connection is served inside one RawConn Read,
// which waits for the next request without a read that finds nothing
// (the readiness reset happens once, so a request that comes while one
// is relayed wakes the next wait), and the upstream exchange uses
// aimesh's sockio (raw reads and writes, WriteAwaitRead). Two reads and
// two writes per request, as nginx makes: what Go can do on this machine
// when the runtime's I/O path is bypassed.
const floorRawName = "go-floor-raw"

// relayFloorRaw is relayFloor with raw system calls; see floorRawName.
func relayFloorRaw(c net.Conn, upstream string) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	uc, ok := sockio.Wrap(up.(*net.TCPConn)).(*sockio.Conn)
	rc, err := c.(*net.TCPConn).SyscallConn()
	if !ok || err != nil {
		return
	}
	ur := bufio.NewReaderSize(uc, 4096)
	buf, n := make([]byte, 8192), 0
	var resp []byte
	rc.Read(func(fd uintptr) bool {
		for {
			if n == len(buf) {
				return true // a request larger than the buffer: not for the floor
			}
			m, err := sockio.ReadFD(fd, buf[n:])
			if errors.Is(err, syscall.EAGAIN) {
				return false
			}
			if err != nil || m == 0 {
				return true
			}
			drained := m < len(buf)-n
			n += m
			for {
				l := messageLen(buf[:n])
				if l < 0 {
					break
				}
				if _, err := uc.WriteAwaitRead(buf[:l]); err != nil {
					return true
				}
				if resp, err = readMessage(ur, resp[:0]); err != nil {
					return true
				}
				for w := 0; w < len(resp); {
					k, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&resp[w])), uintptr(len(resp)-w))
					if e != 0 {
						return true // EAGAIN too: a 1 KiB answer fits an empty socket buffer
					}
					w += int(k)
				}
				n = copy(buf, buf[l:n])
			}
			if drained {
				return false // wait: what comes next wakes this call again
			}
		}
	})
}

// messageLen is the length of the whole message at the start of b (head
// and Content-Length body), or -1 when b does not hold all of it yet.
func messageLen(b []byte) int {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return -1
	}
	cl := 0
	for _, line := range bytes.Split(b[:end], []byte("\r\n")) {
		if v, ok := contentLength(line); ok {
			cl, _ = strconv.Atoi(v)
		}
	}
	if len(b) < end+4+cl {
		return -1
	}
	return end + 4 + cl
}
