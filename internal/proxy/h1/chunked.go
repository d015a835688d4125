package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// chunkState is where a chunked body decoder stands.
type chunkState uint8

const (
	csSize    chunkState = iota // next: a chunk size line
	csData                      // next: body.remaining bytes of chunk data
	csDataEnd                   // next: the CRLF ending a chunk's data
	csDone                      // the last chunk and the trailer were read
)

var errChunkLineTooLong = errors.New("chunk size line too long")

// readChunked decodes chunked data into p. Once it has some data it
// returns without waiting for more, so each chunk of a stream (an SSE
// event) is passed on as soon as it arrives. When the last chunk is
// already buffered it returns io.EOF with the data, so the connection
// goes back to the pool with the body's last bytes.
func (b *body) readChunked(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch b.cs {
		case csSize:
			if n > 0 && !lineBuffered(b.br) {
				return n, nil
			}
			size, err := readChunkSize(b.br)
			if err != nil {
				return n, err
			}
			if size == 0 {
				if err := b.readTrailer(); err != nil {
					return n, err
				}
				b.cs = csDone
				return n, io.EOF
			}
			b.remaining, b.cs = size, csData
		case csData:
			if n > 0 && b.br.Buffered() == 0 {
				return n, nil
			}
			q := p[n:]
			if int64(len(q)) > b.remaining {
				q = q[:b.remaining]
			}
			m, err := b.br.Read(q)
			n += m
			b.remaining -= int64(m)
			if b.remaining == 0 {
				b.cs = csDataEnd
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
		case csDataEnd:
			if n > 0 && b.br.Buffered() < 2 {
				return n, nil
			}
			if err := readCRLF(b.br); err != nil {
				return n, err
			}
			b.cs = csSize
		default:
			return n, io.EOF
		}
	}
	if b.atEnd() {
		return n, io.EOF
	}
	return n, nil
}

// atEnd consumes the end of a chunked body (a last chunk with no
// extensions and no trailer) when it is already buffered, and reports
// whether it did.
func (b *body) atEnd() bool {
	buf, _ := b.br.Peek(b.br.Buffered())
	skip := 0
	switch b.cs {
	case csDataEnd:
		if !bytes.HasPrefix(buf, crlf) {
			return false
		}
		skip = 2
	case csSize:
	default:
		return false
	}
	if !bytes.HasPrefix(buf[skip:], lastChunk) {
		return false
	}
	b.br.Discard(skip + len(lastChunk))
	b.cs = csDone
	return true
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)

func lineBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

// readChunkSize reads a chunk size line (hex size, optional extensions).
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == io.EOF:
		return 0, io.ErrUnexpectedEOF
	case err == bufio.ErrBufferFull:
		return 0, errChunkLineTooLong
	case err != nil:
		return 0, err
	}
	line = bytes.TrimRight(line, " \t\r\n")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = bytes.TrimRight(line[:i], " \t")
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, fmt.Errorf("malformed chunk size %q", line)
	}
	var n uint64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, fmt.Errorf("malformed chunk size %q", line)
		}
		n = n<<4 | uint64(c)
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("chunk size %q too large", line)
	}
	return int64(n), nil
}

func readCRLF(br *bufio.Reader) error {
	buf, err := br.Peek(2)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if buf[0] != '\r' || buf[1] != '\n' {
		return errors.New("malformed chunked encoding: no CRLF after chunk data")
	}
	br.Discard(2)
	return nil
}

// readTrailer reads the trailer section after the last chunk into
// resp.Trailer, whose announced keys are already there.
func (b *body) readTrailer() error {
	total := 0
	for {
		line, err := b.br.ReadSlice('\n')
		switch {
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err == bufio.ErrBufferFull:
			return errHeaderTooLarge
		case err != nil:
			return err
		}
		if total += len(line); total > maxHeadBytes {
			return errHeaderTooLarge
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		key, valid := canonicalKey(string(k))
		value := trimOWS(string(v))
		if !ok || !valid || !validValue(value) {
			return fmt.Errorf("malformed trailer line %q", clip(string(line)))
		}
		if b.resp.Trailer == nil {
			b.resp.Trailer = make(http.Header)
		}
		b.resp.Trailer[key] = append(b.resp.Trailer[key], value)
	}
}

// copyChunked sends r as chunks, one write per read, then the last chunk
// and the trailer.
func copyChunked(w io.Writer, r io.Reader, trailer http.Header, buf []byte) error {
	const (
		head = 10 // room for the hex size and its CRLF
		tail = 7  // the CRLF after the data, and "0\r\n\r\n"
	)
	for {
		n, rerr := r.Read(buf[head : len(buf)-tail])
		if rerr != nil && rerr != io.EOF {
			return &abortError{rerr}
		}
		last := rerr == io.EOF
		if n > 0 {
			var hex [16]byte
			h := strconv.AppendInt(hex[:0], int64(n), 16)
			start := head - 2 - len(h)
			copy(buf[start:], h)
			buf[head-2], buf[head-1] = '\r', '\n'
			end := head + n
			end += copy(buf[end:], crlf)
			done := last && len(trailer) == 0
			if done {
				end += copy(buf[end:], lastChunk)
			}
			if _, err := w.Write(buf[start:end]); err != nil {
				return err
			}
			if done {
				return nil
			}
		}
		if last {
			t := append(buf[:0], "0\r\n"...)
			for k, vv := range trailer {
				if !validToken(k) {
					return &abortError{fmt.Errorf("invalid trailer name %q", k)}
				}
				for _, v := range vv {
					if !validValue(v) {
						return &abortError{fmt.Errorf("invalid value for trailer %q", k)}
					}
					t = append(t, k...)
					t = append(t, ": "...)
					t = append(t, v...)
					t = append(t, "\r\n"...)
				}
			}
			t = append(t, "\r\n"...)
			_, err := w.Write(t)
			return err
		}
	}
}
