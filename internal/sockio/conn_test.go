package sockio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the raw server side of a
// loopback TCP connection.
func pair(t *testing.T) (net.Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := (<-accepted).(*net.TCPConn)
	w := Wrap(c.(*net.TCPConn))
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s
}

// TestBytesBothWays: 4 MiB each way, larger than the socket buffers, so
// writes meet a full buffer (EAGAIN) and wait in the poller.
func TestBytesBothWays(t *testing.T) {
	w, s := pair(t)
	data := make([]byte, 4<<20)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, int64(len(data))))
		got <- b
	}()
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("server got %d bytes, not what was written", len(b))
	}
	go func() { s.Write(data); s.CloseWrite() }()
	b, err := io.ReadAll(w)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
	}
}

func TestDeadlineAndClose(t *testing.T) {
	w, _ := pair(t)
	w.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := w.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("deadline error %v is not a net.Error timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Read returned after %v", d)
	}
	w.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := w.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read park in the poller
	w.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read on a closed connection: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a blocked Read")
	}
}

func TestEOFAndReset(t *testing.T) {
	w, s := pair(t)
	s.Close()
	if _, err := w.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
	w2, s2 := pair(t)
	s2.SetLinger(0) // close with RST
	s2.Close()
	var err error
	for i := 0; i < 10 && err == nil; i++ { // the RST may take a write to surface
		_, err = w2.Write([]byte("x"))
		if err == nil {
			_, err = w2.Read(make([]byte, 1))
		}
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("after a reset: %v, want ECONNRESET or EPIPE", err)
	}
}

// TestConcurrentWrites: net.Conn allows concurrent calls; each Write's
// bytes arrive whole (writes of one goroutine are not mixed into
// another's buffer).
func TestConcurrentWrites(t *testing.T) {
	w, s := pair(t)
	const writers, each, size = 4, 50, 1000
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, writers*each*size))
		got <- b
	}()
	done := make(chan struct{})
	for i := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			buf := bytes.Repeat([]byte{byte('a' + i)}, size)
			for range each {
				if _, err := w.Write(buf); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range writers {
		<-done
	}
	b := <-got
	for off := 0; off+size <= len(b); off += size {
		if !bytes.Equal(b[off:off+size], bytes.Repeat(b[off:off+1], size)) {
			t.Fatalf("bytes of different writes interleaved at %d", off)
		}
	}
	if len(b) != writers*each*size {
		t.Fatalf("%d bytes arrived, want %d", len(b), writers*each*size)
	}
}

func TestListenerWraps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listener{Listener: ln}
	defer l.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Accept returned %T, want *sockio.Conn", c)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
}
