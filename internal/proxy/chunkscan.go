package proxy

import "errors"

// chunkScan follows HTTP/1.1 chunked framing (RFC 9112 7.1) as the bytes
// go by, without copying them, so that a stream relay can pass an
// upstream's chunked body through to the client as is and still know
// where the body ends and how many payload bytes it carried.
type chunkScan struct {
	state   chunkState
	size    int64 // of the chunk being read (while in chunkData: bytes left)
	digits  int
	lineLen int // bytes of the current extension or trailer line
}

type chunkState uint8

const (
	chunkSize        chunkState = iota // hex digits of a chunk size
	chunkExt                           // ";ext" up to CR
	chunkSizeLF                        // the LF after the size line's CR
	chunkData                          // payload bytes
	chunkDataCR                        // the CR after a chunk's payload
	chunkDataLF                        // the LF after it
	chunkTrailer                       // start of a trailer line (or the final CRLF)
	chunkTrailerLine                   // inside a trailer field line
	chunkTrailerLF                     // LF ending a trailer line
	chunkFinalLF                       // LF of the final empty line
	chunkDone                          // the body ended
)

var errBadChunk = errors.New("malformed chunked encoding from the upstream")

// maxChunkLine bounds a size line's extension and a trailer line.
const maxChunkLine = 8 << 10

// scan consumes b. It returns how many bytes of b belong to the body (all
// of b unless the body ended inside it), the payload bytes among them,
// and an error for malformed framing.
func (c *chunkScan) scan(b []byte) (used int, payload int64, err error) {
	i := 0
	for i < len(b) && c.state != chunkDone {
		ch := b[i]
		switch c.state {
		case chunkSize:
			switch v := hexVal(ch); {
			case v >= 0:
				if c.digits >= 15 {
					return i, payload, errBadChunk
				}
				c.size = c.size<<4 | int64(v)
				c.digits++
			case c.digits == 0:
				return i, payload, errBadChunk
			case ch == ';' || ch == ' ' || ch == '\t':
				c.state, c.lineLen = chunkExt, 0
			case ch == '\r':
				c.state = chunkSizeLF
			default:
				return i, payload, errBadChunk
			}
			i++
		case chunkExt:
			if ch == '\r' {
				c.state = chunkSizeLF
			} else if c.lineLen++; c.lineLen > maxChunkLine {
				return i, payload, errBadChunk
			}
			i++
		case chunkSizeLF:
			if ch != '\n' {
				return i, payload, errBadChunk
			}
			i++
			c.digits = 0
			if c.size == 0 {
				c.state = chunkTrailer
			} else {
				c.state = chunkData
			}
		case chunkData:
			n := min(int64(len(b)-i), c.size)
			i += int(n)
			payload += n
			if c.size -= n; c.size == 0 {
				c.state = chunkDataCR
			}
		case chunkDataCR:
			if ch != '\r' {
				return i, payload, errBadChunk
			}
			c.state = chunkDataLF
			i++
		case chunkDataLF:
			if ch != '\n' {
				return i, payload, errBadChunk
			}
			c.state = chunkSize
			i++
		case chunkTrailer:
			if ch == '\r' {
				c.state = chunkFinalLF
			} else {
				c.state, c.lineLen = chunkTrailerLine, 1
			}
			i++
		case chunkTrailerLine:
			if ch == '\r' {
				c.state = chunkTrailerLF
			} else if c.lineLen++; c.lineLen > maxChunkLine {
				return i, payload, errBadChunk
			}
			i++
		case chunkTrailerLF:
			if ch != '\n' {
				return i, payload, errBadChunk
			}
			c.state = chunkTrailer
			i++
		case chunkFinalLF:
			if ch != '\n' {
				return i, payload, errBadChunk
			}
			c.state = chunkDone
			i++
		}
	}
	return i, payload, nil
}

// done reports whether the whole body went by.
func (c *chunkScan) done() bool { return c.state == chunkDone }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
