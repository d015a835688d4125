package openai

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// appendUnquote appends the decoded form of the raw content of a JSON
// string that the scanner has already checked, exactly as encoding/json
// decodes it: escapes resolved, surrogate pairs combined, and lone
// surrogates and invalid UTF-8 replaced by U+FFFD.
func appendUnquote(dst, raw []byte) []byte {
	for r := 0; r < len(raw); {
		ch := raw[r]
		switch {
		case ch == '\\':
			if r+1 >= len(raw) {
				return append(dst, raw[r:]...) // unreachable for checked strings
			}
			switch e := raw[r+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
				r += 2
			case 'b':
				dst = append(dst, '\b')
				r += 2
			case 'f':
				dst = append(dst, '\f')
				r += 2
			case 'n':
				dst = append(dst, '\n')
				r += 2
			case 'r':
				dst = append(dst, '\r')
				r += 2
			case 't':
				dst = append(dst, '\t')
				r += 2
			case 'u':
				rr := hex4(raw[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if len(raw) >= r+6 && raw[r] == '\\' && raw[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(raw[r+2:])); dec != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, dec)
							r += 6
							break
						}
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
			default:
				return append(dst, raw[r:]...) // unreachable for checked strings
			}
		case ch < utf8.RuneSelf:
			dst = append(dst, ch)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, ch := range b[:4] {
		switch {
		case ch >= '0' && ch <= '9':
			ch -= '0'
		case ch >= 'a' && ch <= 'f':
			ch = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			ch = ch - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(ch)
	}
	return r
}
