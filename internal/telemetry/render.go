package telemetry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/aimesh/aimesh/internal/jsonstr"
)

type valKind uint8

const (
	valMissing valKind = iota // "-" in text, null in typed JSON
	valString
	valNumber
	valTime // Entry.Start, rendered with the segment's time format
)

func str(v string) (valKind, string, int64) {
	if v == "" {
		return valMissing, "", 0
	}
	return valString, v, 0
}

func num(n int64) (valKind, string, int64) { return valNumber, "", n }

func millis(d time.Duration) int64 { return int64(d / time.Millisecond) }

// value extracts what segment s stands for from e.
func (s *segment) value(e *Entry) (valKind, string, int64) {
	switch s.op {
	case opLiteral, opHostname:
		return str(s.lit)
	case opStartTime:
		if e.Start.IsZero() {
			return valMissing, "", 0
		}
		return valTime, "", 0
	case opReq:
		v := reqHeader(e, s.hdr[0])
		if v == "" && s.nhdr == 2 {
			v = reqHeader(e, s.hdr[1])
		}
		return str(v)
	case opResp:
		v := firstValue(e.ResponseHeader, s.hdr[0])
		if v == "" && s.nhdr == 2 {
			v = firstValue(e.ResponseHeader, s.hdr[1])
		}
		return str(v)
	case opProtocol:
		return str(e.Protocol)
	case opResponseCode:
		return num(int64(e.Code))
	case opResponseFlags:
		return str(e.Flags)
	case opBytesReceived:
		return num(e.BytesReceived)
	case opBytesSent:
		return num(e.BytesSent)
	case opDuration:
		return num(millis(e.Duration))
	case opResponseDuration:
		if e.TTFB <= 0 {
			return valMissing, "", 0
		}
		return num(millis(e.TTFB))
	case opResponseTxDuration:
		if e.TTFB <= 0 {
			return valMissing, "", 0
		}
		return num(millis(e.Duration - e.TTFB))
	case opUpstreamHost:
		return str(e.UpstreamHost)
	case opUpstreamCluster:
		return str(e.VirtualNode)
	case opRemoteAddr:
		return str(e.RemoteAddr)
	case opRemoteAddrNoPort:
		return str(stripPort(e.RemoteAddr))
	case opLocalAddr:
		return str(e.LocalAddr)
	case opLocalAddrNoPort:
		return str(stripPort(e.LocalAddr))
	case opServerName:
		return str(e.ServerName)
	case opRouteName:
		return str(e.Route)
	case opFailureReason:
		return str(e.FailureReason)
	case opVirtualService:
		return str(e.VirtualService)
	case opModel:
		return str(e.Model)
	case opRetries:
		return num(int64(e.Retries))
	case opPromptTokens:
		if e.PromptTokens <= 0 {
			return valMissing, "", 0
		}
		return num(e.PromptTokens)
	case opCompletionTokens:
		if e.CompletionTokens <= 0 {
			return valMissing, "", 0
		}
		return num(e.CompletionTokens)
	}
	return valMissing, "", 0
}

func reqHeader(e *Entry, h hdrRef) string {
	switch h.pseudo {
	case hdrMethod:
		return e.Method
	case hdrPath:
		return e.Path
	case hdrAuthority:
		return e.Authority
	case hdrScheme:
		return e.Scheme
	case hdrOriginalPath:
		if e.OriginalPath != "" {
			return e.OriginalPath
		}
	case hdrUnknownPseudo:
		return ""
	}
	return firstValue(e.RequestHeader, h)
}

func firstValue(hdr http.Header, h hdrRef) string {
	if h.key == "" {
		return ""
	}
	if v := hdr[h.key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// stripPort drops the port of host:port or [v6]:port without allocating.
func stripPort(a string) string {
	if strings.HasPrefix(a, "[") {
		if i := strings.IndexByte(a, ']'); i > 0 {
			return a[1:i]
		}
		return a
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 && strings.IndexByte(a, ':') == i {
		return a[:i]
	}
	return a
}

func truncate(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

// appendValue appends segment s's value as text: "-" when missing. With
// sanitize, control characters in string values are escaped so a value (a
// model name from a request body, say) cannot forge log lines.
func (s *segment) appendValue(b []byte, e *Entry, sanitize bool) []byte {
	k, v, n := s.value(e)
	switch k {
	case valMissing:
		return append(b, '-')
	case valNumber:
		return strconv.AppendInt(b, n, 10)
	case valTime:
		start := len(b)
		b = appendStartTime(b, e.Start, s.tf)
		if s.maxLen > 0 && len(b)-start > s.maxLen {
			b = b[:start+s.maxLen]
		}
		return b
	}
	v = truncate(v, s.maxLen)
	if sanitize {
		return appendSanitized(b, v)
	}
	return append(b, v...)
}

func appendText(b []byte, segs []segment, e *Entry) []byte {
	for i := range segs {
		s := &segs[i]
		if s.op == opLiteral {
			b = append(b, s.lit...)
			continue
		}
		b = s.appendValue(b, e, true)
	}
	return b
}

// appendJSON appends one JSON object and a newline. tmp is scratch space for
// values that are rendered before being escaped.
func appendJSON(b []byte, tmp *[]byte, fields []jsonField, e *Entry) []byte {
	for i := range fields {
		f := &fields[i]
		b = append(b, f.prefix...)
		if f.typed {
			s := &f.segs[0]
			switch k, v, n := s.value(e); k {
			case valMissing:
				b = append(b, "null"...)
			case valNumber:
				b = strconv.AppendInt(b, n, 10)
			case valString:
				b = jsonstr.AppendQuoted(b, truncate(v, s.maxLen))
			case valTime:
				*tmp = s.appendValue((*tmp)[:0], e, false)
				b = jsonstr.AppendQuoted(b, bytesString(*tmp))
			}
			continue
		}
		b = append(b, '"')
		for j := range f.segs {
			s := &f.segs[j]
			if s.op == opLiteral {
				b = append(b, s.lit...) // escaped at compile time
				continue
			}
			*tmp = s.appendValue((*tmp)[:0], e, false)
			b = jsonstr.AppendInner(b, bytesString(*tmp))
		}
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// bytesString views b as a string without copying; the caller must not
// change b while the string is in use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

const hexDigits = "0123456789abcdef"

// appendSanitized appends s, escaping ASCII control characters (\n, \r, \t,
// \xNN) so one request always makes one text line.
func appendSanitized(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != 0x7f {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
