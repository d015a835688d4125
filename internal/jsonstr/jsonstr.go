// Package jsonstr appends strings as JSON string literals without
// encoding/json's reflection and allocations; the gateway's error bodies and
// the JSON access log share it.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendInner appends s escaped as the inside of a JSON string, the way
// encoding/json writes it except that <, > and & are not escaped: quotes,
// backslashes and control characters are escaped, invalid UTF-8 becomes
// \ufffd, and U+2028 and U+2029 are escaped.
func AppendInner(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		ch := s[i]
		if ch < utf8.RuneSelf {
			if ch >= 0x20 && ch != '"' && ch != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch ch {
			case '"', '\\':
				dst = append(dst, '\\', ch)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[ch>>4], hexDigits[ch&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// AppendQuoted appends s as a quoted JSON string (see AppendInner).
func AppendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendInner(dst, s)
	return append(dst, '"')
}
