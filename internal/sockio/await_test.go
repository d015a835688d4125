//go:build linux

package sockio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

type awaiter interface {
	WriteAwaitRead([]byte) (int, error)
}

// TestWriteAwaitReadWaitsForTheAnswer: the call returns only after the
// peer has answered, and the answer is then there to read.
func TestWriteAwaitReadWaitsForTheAnswer(t *testing.T) {
	w, s := pair(t)
	var answered atomic.Bool
	for i := 0; i < 3; i++ { // and again on the same connection
		answered.Store(false)
		go func() {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			answered.Store(true)
			s.Write([]byte("pong"))
		}()
		n, err := w.(awaiter).WriteAwaitRead([]byte("ping\n"))
		if n != 5 || err != nil {
			t.Fatalf("WriteAwaitRead = %d, %v", n, err)
		}
		if !answered.Load() {
			t.Fatal("WriteAwaitRead returned before the peer answered")
		}
		buf := make([]byte, 16)
		if n, err := w.Read(buf); string(buf[:n]) != "pong" || err != nil {
			t.Fatalf("Read after the wait = %q, %v", buf[:n], err)
		}
	}
}

// TestWriteAwaitReadDeadline: a silent peer leaves the wait to the read
// deadline, and the next Read reports the timeout.
func TestWriteAwaitReadDeadline(t *testing.T) {
	w, _ := pair(t)
	w.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	if n, err := w.(awaiter).WriteAwaitRead([]byte("ping\n")); n != 5 || err != nil {
		t.Fatalf("WriteAwaitRead = %d, %v; want 5, nil (the Read reports the timeout)", n, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("returned after %s, before the 50ms deadline", d)
	}
	if _, err := w.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after the deadline: %v, want a timeout", err)
	}
	// A deadline already past: nothing is written, the write reports it.
	if n, err := w.(awaiter).WriteAwaitRead([]byte("ping\n")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WriteAwaitRead past the deadline = %d, %v; want 0 and a timeout", n, err)
	}
}

// TestWriteAwaitReadPeerGone: an upstream that closed the idle
// connection wakes the wait (the request draws a reset) and the Read
// reports the failure instead of hanging.
func TestWriteAwaitReadPeerGone(t *testing.T) {
	w, s := pair(t)
	s.SetLinger(0)
	s.Close()
	w.SetReadDeadline(time.Now().Add(10 * time.Second))
	done := make(chan error, 1)
	go func() {
		w.(awaiter).WriteAwaitRead([]byte("ping\n"))
		_, err := w.Read(make([]byte, 4))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Read from a closed peer: no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end when the peer had closed the connection")
	}
}

// TestWriteAwaitReadLargeWrite: a write larger than the socket buffers
// goes out whole (the rest by Write), and the answer is still read.
func TestWriteAwaitReadLargeWrite(t *testing.T) {
	w, s := pair(t)
	data := make([]byte, 8<<20)
	rand.Read(data)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, int64(len(data))))
		s.Write([]byte("ok"))
		got <- b
	}()
	if n, err := w.(awaiter).WriteAwaitRead(data); n != len(data) || err != nil {
		t.Fatalf("WriteAwaitRead = %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("peer got %d bytes, not what was written", len(b))
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(w, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("answer: %q, %v", buf, err)
	}
}

var _ net.Conn = (*Conn)(nil)
