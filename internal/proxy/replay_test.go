package proxy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReplayBody checks when a streamed body can be sent again and that
// every attempt that may send it sends it whole.
func TestReplayBody(t *testing.T) {
	const body = "0123456789abcdefghij" // 20 bytes
	readN := func(r io.Reader, n int) string {
		b := make([]byte, n)
		k, _ := io.ReadFull(r, b)
		return string(b[:k])
	}
	t.Run("untouched body", func(t *testing.T) {
		b := newReplayBody(strings.NewReader(body), 100)
		defer b.release()
		b.next() // an attempt that failed before reading
		if !b.canReplay() {
			t.Fatal("nothing was read: another attempt can send the body")
		}
		if got, _ := io.ReadAll(b.next()); string(got) != body {
			t.Fatalf("second attempt sent %q", got)
		}
	})
	t.Run("read to its end within max", func(t *testing.T) {
		b := newReplayBody(strings.NewReader(body), 100)
		defer b.release()
		first := b.next()
		if got, _ := io.ReadAll(first); string(got) != body {
			t.Fatalf("first attempt sent %q", got)
		}
		if !b.canReplay() {
			t.Fatal("the whole body is in the copy: another attempt can send it")
		}
		second := b.next()
		if _, err := first.Read(make([]byte, 1)); !errors.Is(err, errBodySpent) {
			t.Fatalf("a retired reader read: %v", err)
		}
		if got, _ := io.ReadAll(second); string(got) != body {
			t.Fatalf("replay sent %q", got)
		}
	})
	t.Run("partly read", func(t *testing.T) {
		b := newReplayBody(strings.NewReader(body), 100)
		defer b.release()
		if got := readN(b.next(), 5); got != body[:5] {
			t.Fatalf("read %q", got)
		}
		if b.canReplay() {
			t.Fatal("the rest of the body is unknown: no other attempt can send it")
		}
	})
	t.Run("longer than max", func(t *testing.T) {
		b := newReplayBody(strings.NewReader(body), 10)
		defer b.release()
		r := b.next()
		if got, _ := io.ReadAll(r); string(got) != body {
			t.Fatalf("the first attempt must still send the whole body, sent %q", got)
		}
		if b.canReplay() {
			t.Fatal("the copy was dropped past max: no other attempt can send it")
		}
		if _, err := b.next().Read(make([]byte, 1)); !errors.Is(err, errBodySpent) {
			t.Fatalf("a new attempt read: %v", err)
		}
	})
	t.Run("released", func(t *testing.T) {
		src := bytes.NewReader([]byte(body))
		b := newReplayBody(src, 100)
		r := b.next()
		readN(r, 3)
		b.release()
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, errBodySpent) {
			t.Fatalf("read after release: %v", err)
		}
		if src.Len() != len(body)-3 {
			t.Fatalf("the client's body was read after release")
		}
	})
}
