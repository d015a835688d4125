package proxy

import (
	"errors"
	"io"
	"sync"
)

// replayBody streams a request body to the upstream as the client sends
// it and keeps a copy, up to max bytes, so that a failed attempt can be
// retried or sent to a fallback target. Reading the whole body before the
// first attempt would stall gRPC client and bidirectional streams (and
// any request whose client waits for response bytes before it finishes
// sending) until they time out.
//
// Another attempt can send the body when none of it was read yet, or when
// it was read to its end within max; otherwise canReplay says no and the
// request gets the answer it has. Each attempt reads through its own
// reader; a new one retires the older ones, so a Transport goroutine
// still busy with an earlier attempt never reads the client's body
// concurrently with the current one. The client's body is never closed
// here: net/http closes it when the handler returns.
type replayBody struct {
	src io.Reader
	max int64

	mu       sync.Mutex
	buf      *[]byte // the copy; nil once over max or released
	read     int64   // bytes read from src
	eof      bool
	reading  bool // a read of src is in progress
	gen      int  // the attempt whose reader is current
	released bool
}

var errBodySpent = errors.New("request body already sent by an earlier attempt")

// replayBufs holds copy buffers; those that grew past a MiB are dropped.
var replayBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func newReplayBody(src io.Reader, max int64) *replayBody {
	return &replayBody{src: src, max: max, buf: replayBufs.Get().(*[]byte)}
}

// canReplay reports whether another attempt could send the whole body.
func (b *replayBody) canReplay() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return (b.read == 0 && !b.reading) || (b.eof && b.buf != nil)
}

// sent reports whether the client's body was read to its end.
func (b *replayBody) sent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof && !b.reading
}

// bytesRead is how many bytes of the client's body were read so far.
func (b *replayBody) bytesRead() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

// next returns the reader for a new attempt, retiring earlier ones.
func (b *replayBody) next() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	return &replayReader{b: b, gen: b.gen}
}

// release ends the request: readers fail from now on, and the copy goes
// back to the pool (no reader touches it after release).
func (b *replayBody) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	b.dropCopy()
}

// dropCopy gives the copy back to the pool; b.mu is held.
func (b *replayBody) dropCopy() {
	if b.buf != nil && cap(*b.buf) <= 1<<20 {
		*b.buf = (*b.buf)[:0]
		replayBufs.Put(b.buf)
	}
	b.buf = nil
}

type replayReader struct {
	b   *replayBody
	gen int
	off int64
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	if b.released || r.gen != b.gen {
		b.mu.Unlock()
		return 0, errBodySpent
	}
	if b.buf != nil && r.off < int64(len(*b.buf)) { // what earlier attempts read
		n := copy(p, (*b.buf)[r.off:])
		r.off += int64(n)
		b.mu.Unlock()
		return n, nil
	}
	if r.off != b.read || b.reading { // the copy was dropped, or another read is on
		b.mu.Unlock()
		return 0, errBodySpent
	}
	if b.eof {
		b.mu.Unlock()
		return 0, io.EOF
	}
	b.reading = true
	b.mu.Unlock()

	n, err := b.src.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading = false
	if n > 0 {
		b.read += int64(n)
		r.off += int64(n)
		if b.buf != nil {
			if b.read <= b.max {
				*b.buf = append(*b.buf, p[:n]...)
			} else {
				b.dropCopy()
			}
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close does not close the client's body; see replayBody.
func (r *replayReader) Close() error { return nil }
