package openai

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
)

// ErrBadJSON is wrapped by every error Inspect returns for a body that is
// not a well-formed JSON object. Clients get 400 with code CodeBadJSON.
var ErrBadJSON = errors.New("request body is not valid JSON")

// maxDepth is encoding/json's nesting limit: 10000 open objects and arrays.
const maxDepth = 10000

// syntaxError is malformed JSON at an offset. Its message is written for
// the client: "request body is not valid JSON: unexpected 'x' after object
// key at offset 12".
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return "request body is not valid JSON: " + e.msg + " at offset " + strconv.Itoa(e.off)
}

func (e *syntaxError) Unwrap() error { return ErrBadJSON }

// notObjectError is valid JSON whose top-level value is not an object.
type notObjectError struct{ got string }

func (e *notObjectError) Error() string {
	return "request body must be a JSON object, got " + e.got
}

func (e *notObjectError) Unwrap() error { return ErrBadJSON }

// cursor is a position in a JSON document. Its methods consume one token or
// value and leave i just after it; they never look further back than i.
// The scanner is meant to be reused by other extractors of this package:
// iterate an object with nextKey, decide per key, and skipValue the rest.
type cursor struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (c *cursor) ws() {
	for c.i < len(c.b) {
		ch := c.b[c.i]
		if ch > ' ' || (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			return
		}
		c.i++
	}
}

// unexpected reports the byte at c.i; where says what was being read.
func (c *cursor) unexpected(where string) error {
	if c.i >= len(c.b) {
		return c.eof()
	}
	ch := c.b[c.i]
	var what string
	if ch >= 0x20 && ch < 0x7f {
		what = "'" + string(rune(ch)) + "'"
		if ch == '\'' {
			what = `"'"`
		}
	} else {
		what = "byte 0x" + strconv.FormatUint(uint64(ch)>>4, 16) + strconv.FormatUint(uint64(ch)&0xf, 16)
	}
	return &syntaxError{msg: "unexpected " + what + " " + where, off: c.i}
}

func (c *cursor) eof() error {
	return &syntaxError{msg: "unexpected end of input", off: len(c.b)}
}

// nextKey reads the next member key of an object whose '{' has been
// consumed; first says whether no member has been read yet. It returns the
// raw key (between the quotes) and whether it contains escapes, or
// done=true once the closing '}' is consumed. On return c.i is at the
// member's value (whitespace skipped).
func (c *cursor) nextKey(first bool) (key []byte, esc, done bool, err error) {
	c.ws()
	if c.i >= len(c.b) {
		return nil, false, false, c.eof()
	}
	ch := c.b[c.i]
	if first {
		if ch == '}' {
			c.i++
			return nil, false, true, nil
		}
	} else {
		switch ch {
		case '}':
			c.i++
			return nil, false, true, nil
		case ',':
			c.i++
			c.ws()
		default:
			return nil, false, false, c.unexpected("after object key:value pair")
		}
		if c.i >= len(c.b) {
			return nil, false, false, c.eof()
		}
	}
	if c.b[c.i] != '"' {
		return nil, false, false, c.unexpected("looking for beginning of object key string")
	}
	start := c.i + 1
	if esc, err = c.scanString(); err != nil {
		return nil, false, false, err
	}
	key = c.b[start : c.i-1]
	c.ws()
	if c.i >= len(c.b) {
		return nil, false, false, c.eof()
	}
	if c.b[c.i] != ':' {
		return nil, false, false, c.unexpected("after object key")
	}
	c.i++
	c.ws()
	if c.i >= len(c.b) {
		return nil, false, false, c.eof()
	}
	return key, esc, false, nil
}

// end checks that only whitespace follows the top-level value.
func (c *cursor) end() error {
	c.ws()
	if c.i < len(c.b) {
		return c.unexpected("after top-level value")
	}
	return nil
}

// skipValue skips one value at c.i (whitespace already skipped); depth is
// the number of containers open around it.
func (c *cursor) skipValue(depth int) error {
	if c.i >= len(c.b) {
		return c.eof()
	}
	switch ch := c.b[c.i]; ch {
	case '"':
		_, err := c.scanString()
		return err
	case '{', '[':
		return c.skipContainer(depth)
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	default:
		if ch == '-' || (ch >= '0' && ch <= '9') {
			return c.skipNumber()
		}
		return c.unexpected("looking for beginning of value")
	}
}

// skipContainer skips the object or array at c.i without recursion for up
// to 64 levels (a bit per level records object or array); deeper subtrees
// recurse once per 64 levels.
func (c *cursor) skipContainer(depth int) error {
	var (
		b     = c.b
		kinds uint64 // bit n-1 set: level n is an object
		n     int    // levels open in this call
		ch    byte
		err   error
	)
open:
	if depth+n >= maxDepth {
		return &syntaxError{msg: "nesting deeper than 10000 levels", off: c.i}
	}
	if b[c.i] == '{' {
		kinds |= 1 << n
	} else {
		kinds &^= 1 << n
	}
	n++
	c.i++
	c.ws()
	if c.i >= len(b) {
		return c.eof()
	}
	if kinds&(1<<(n-1)) != 0 {
		if b[c.i] == '}' {
			c.i++
			goto closed
		}
		goto key
	}
	if b[c.i] == ']' {
		c.i++
		goto closed
	}
	goto value
key:
	if b[c.i] != '"' {
		return c.unexpected("looking for beginning of object key string")
	}
	if _, err = c.scanString(); err != nil {
		return err
	}
	c.ws()
	if c.i >= len(b) {
		return c.eof()
	}
	if b[c.i] != ':' {
		return c.unexpected("after object key")
	}
	c.i++
	c.ws()
	if c.i >= len(b) {
		return c.eof()
	}
value:
	ch = b[c.i]
	if ch == '{' || ch == '[' {
		if n < 64 {
			goto open
		}
		err = c.skipContainer(depth + n)
	} else {
		err = c.skipValue(depth + n)
	}
	if err != nil {
		return err
	}
after:
	c.ws()
	if c.i >= len(b) {
		return c.eof()
	}
	ch = b[c.i]
	if kinds&(1<<(n-1)) != 0 {
		switch ch {
		case ',':
			c.i++
			c.ws()
			if c.i >= len(b) {
				return c.eof()
			}
			goto key
		case '}':
			c.i++
			goto closed
		}
		return c.unexpected("after object key:value pair")
	}
	switch ch {
	case ',':
		c.i++
		c.ws()
		if c.i >= len(b) {
			return c.eof()
		}
		goto value
	case ']':
		c.i++
		goto closed
	}
	return c.unexpected("after array element")
closed:
	n--
	if n == 0 {
		return nil
	}
	goto after
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// noControl reports whether s has no byte below 0x20, eight bytes at a time
// (a byte x is below 0x20 when x-0x20 borrows and x itself is below 0x80).
func noControl(s []byte) bool {
	for len(s) >= 16 {
		w1 := binary.LittleEndian.Uint64(s)
		w2 := binary.LittleEndian.Uint64(s[8:])
		if ((w1-lsb*0x20)&^w1|(w2-lsb*0x20)&^w2)&msb != 0 {
			return false
		}
		s = s[16:]
	}
	if len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		if (w-lsb*0x20)&^w&msb != 0 {
			return false
		}
		s = s[8:]
	}
	for _, ch := range s {
		if ch < 0x20 {
			return false
		}
	}
	return true
}

// scanString consumes the string starting at c.i (a '"') and reports
// whether it contains escapes; the raw content is c.b[start+1 : c.i-1]
// afterwards. It finds the closing quote and each backslash with
// bytes.IndexByte (vectorised) and checks the runs between them for control
// characters eight bytes at a time.
func (c *cursor) scanString() (esc bool, err error) {
	b := c.b
	i := c.i + 1
	q := -1 // the first '"' at or after i, once known
	for {
		if q < i {
			k := bytes.IndexByte(b[i:], '"')
			if k < 0 {
				return false, c.stringError(i)
			}
			q = i + k
		}
		run := q
		if k := bytes.IndexByte(b[i:q], '\\'); k >= 0 {
			run = i + k
		}
		if !noControl(b[i:run]) {
			return false, c.stringError(i)
		}
		if run == q {
			c.i = q + 1
			return esc, nil
		}
		// b[run] is a backslash before the quote at q.
		esc = true
		i = run + 1
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			i++
			if i+4 > len(b) || !isHex(b[i]) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) {
				return false, c.stringError(run)
			}
			i += 4
		default:
			return false, c.stringError(run)
		}
	}
}

// stringError finds the first error in the string content that starts at
// i, byte by byte: the slow path for strings known to be malformed.
func (c *cursor) stringError(i int) error {
	b := c.b
	for ; i < len(b); i++ {
		switch ch := b[i]; {
		case ch == '"':
			panic("openai: stringError on a well-formed string")
		case ch < 0x20:
			c.i = i
			return c.unexpected("in string literal")
		case ch == '\\':
			i++
			if i >= len(b) {
				return c.eof()
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) {
						return c.eof()
					}
					if !isHex(b[i+k]) {
						c.i = i + k
						return c.unexpected("in \\u hexadecimal character escape")
					}
				}
				i += 4
			default:
				c.i = i
				return c.unexpected("in string escape code")
			}
		}
	}
	return c.eof()
}

func isHex(ch byte) bool {
	return (ch >= '0' && ch <= '9') || (ch|0x20 >= 'a' && ch|0x20 <= 'f')
}

// skipNumber consumes -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (c *cursor) skipNumber() error {
	b, i := c.b, c.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return c.eof()
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		c.i = i
		return c.unexpected("in numeric literal")
	}
	var err error
	if i < len(b) && b[i] == '.' {
		if i, err = c.digits(i + 1); err != nil {
			return err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, err = c.digits(i); err != nil {
			return err
		}
	}
	c.i = i
	return nil
}

// digits consumes one or more digits from i and returns the end.
func (c *cursor) digits(i int) (int, error) {
	b := c.b
	if i >= len(b) {
		return 0, c.eof()
	}
	if b[i] < '0' || b[i] > '9' {
		c.i = i
		return 0, c.unexpected("in numeric literal")
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i, nil
}

// literal consumes lit (true, false or null).
func (c *cursor) literal(lit string) error {
	for k := 0; k < len(lit); k++ {
		if c.i >= len(c.b) {
			return c.eof()
		}
		if c.b[c.i] != lit[k] {
			return c.unexpected("in literal " + lit)
		}
		c.i++
	}
	return nil
}
