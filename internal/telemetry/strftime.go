package telemetry

import (
	"strconv"
	"strings"
	"time"
)

// timePart is one piece of a compiled %START_TIME(FORMAT)%: literal text,
// or a strftime conversion (verb) with, for %Nf, a digit count.
type timePart struct {
	lit    string
	verb   byte
	digits int
}

// compileStrftime compiles the strftime-style FORMAT of %START_TIME(...)%.
// Supported: %Y %C %y %m %d %e %j %H %I %M %S %p %a %A %b %h %B %z %Z %s
// %T (%H:%M:%S) %F (%Y-%m-%d) %D (%m/%d/%y) %R (%H:%M) %u %w %n %t %%, and
// Envoy's fractional seconds %f (nanoseconds, 9 digits) and %1f .. %9f.
// Any other conversion is copied through unchanged, as strftime does.
// Times are rendered in UTC, as Envoy does.
func compileStrftime(f string) []timePart {
	var parts []timePart
	var lit strings.Builder
	add := func(p timePart) {
		if lit.Len() > 0 {
			parts = append(parts, timePart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, p)
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			lit.WriteByte(c)
			continue
		}
		i++
		v := f[i]
		switch {
		case v >= '1' && v <= '9' && i+1 < len(f) && f[i+1] == 'f':
			add(timePart{verb: 'f', digits: int(v - '0')})
			i++
		case v == 'f':
			add(timePart{verb: 'f', digits: 9})
		case v == '%':
			lit.WriteByte('%')
		case v == 'n':
			lit.WriteByte('\n')
		case v == 't':
			lit.WriteByte('\t')
		case strings.IndexByte("YCymdejHIMSpaAbhBzZsTFDRuw", v) >= 0:
			add(timePart{verb: v})
		default:
			lit.WriteByte('%')
			lit.WriteByte(v)
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, timePart{lit: lit.String()})
	}
	return parts
}

// appendStartTime renders t in UTC with parts, or in Envoy's default
// format (RFC 3339 with milliseconds) when parts is nil.
func appendStartTime(b []byte, t time.Time, parts []timePart) []byte {
	t = t.UTC()
	if parts == nil {
		return appendRFC3339Millis(b, t)
	}
	for _, p := range parts {
		if p.verb == 0 {
			b = append(b, p.lit...)
			continue
		}
		b = appendTimeVerb(b, t, p)
	}
	return b
}

// appendRFC3339Millis appends t (UTC) as 2006-01-02T15:04:05.000Z, by
// hand: about three times faster than time.AppendFormat.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendInt(b, year, 4)
	b = append(b, '-')
	b = appendInt(b, int(month), 2)
	b = append(b, '-')
	b = appendInt(b, day, 2)
	b = append(b, 'T')
	b = appendInt(b, hour, 2)
	b = append(b, ':')
	b = appendInt(b, minute, 2)
	b = append(b, ':')
	b = appendInt(b, sec, 2)
	b = append(b, '.')
	b = appendInt(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

func appendTimeVerb(b []byte, t time.Time, p timePart) []byte {
	switch p.verb {
	case 'Y':
		return appendInt(b, t.Year(), 4)
	case 'C':
		return appendInt(b, t.Year()/100, 2)
	case 'y':
		return appendInt(b, t.Year()%100, 2)
	case 'm':
		return appendInt(b, int(t.Month()), 2)
	case 'd':
		return appendInt(b, t.Day(), 2)
	case 'e':
		if t.Day() < 10 {
			b = append(b, ' ')
		}
		return appendInt(b, t.Day(), 1)
	case 'j':
		return appendInt(b, t.YearDay(), 3)
	case 'H':
		return appendInt(b, t.Hour(), 2)
	case 'I':
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		return appendInt(b, h, 2)
	case 'M':
		return appendInt(b, t.Minute(), 2)
	case 'S':
		return appendInt(b, t.Second(), 2)
	case 'p':
		if t.Hour() < 12 {
			return append(b, "AM"...)
		}
		return append(b, "PM"...)
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'b', 'h':
		return append(b, t.Month().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 'z':
		return append(b, "+0000"...)
	case 'Z':
		return append(b, "UTC"...)
	case 's':
		return appendInt64(b, t.Unix())
	case 'T':
		b = appendInt(b, t.Hour(), 2)
		b = append(b, ':')
		b = appendInt(b, t.Minute(), 2)
		b = append(b, ':')
		return appendInt(b, t.Second(), 2)
	case 'F':
		b = appendInt(b, t.Year(), 4)
		b = append(b, '-')
		b = appendInt(b, int(t.Month()), 2)
		b = append(b, '-')
		return appendInt(b, t.Day(), 2)
	case 'D':
		b = appendInt(b, int(t.Month()), 2)
		b = append(b, '/')
		b = appendInt(b, t.Day(), 2)
		b = append(b, '/')
		return appendInt(b, t.Year()%100, 2)
	case 'R':
		b = appendInt(b, t.Hour(), 2)
		b = append(b, ':')
		return appendInt(b, t.Minute(), 2)
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return appendInt(b, wd, 1)
	case 'w':
		return appendInt(b, int(t.Weekday()), 1)
	case 'f':
		ns := t.Nanosecond()
		for range 9 - p.digits {
			ns /= 10
		}
		return appendInt(b, ns, p.digits)
	}
	return b
}

// appendInt appends n (>= 0) zero-padded to width digits.
func appendInt(b []byte, n, width int) []byte {
	var d [20]byte
	i := len(d)
	for n >= 10 || width > 1 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	d[i] = byte('0' + n)
	return append(b, d[i:]...)
}

func appendInt64(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
