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
// to upstream.
func serveFloor(port, upstream string) int {
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
		go relayFloor(c, upstream)
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
		if k, v, ok := bytes.Cut(line, []byte{':'}); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if cl, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
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

// startFloor runs this binary as the Go floor, relaying to the upstream's
// first port, with GOMAXPROCS=1.
func (l *launcher) startFloor(up *upstream, body []byte) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t := &target{name: floorName, port: port, logPath: filepath.Join(l.work, floorName+".log"), floor: true,
		url: fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)}
	cmd := l.command([]string{"GOMAXPROCS=1"}, self, floorFlag, strconv.Itoa(port), up.Addr(0))
	t.servingPID = t.pid
	return t, l.start(t, cmd, body)
}
