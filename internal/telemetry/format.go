package telemetry

import (
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"strconv"
	"strings"

	"github.com/aimesh/aimesh/api/v1alpha1"

	"github.com/aimesh/aimesh/internal/jsonstr"
)

// DefaultTextFormat is Envoy's default access log line, used when a
// FileAccessLog has no format.
const DefaultTextFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
	`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"

// FormatError is a problem in an access log format: an unknown or malformed
// command operator. Key is the JSON key whose value holds it ("" for text
// formats); Pos is the byte offset in that format string.
type FormatError struct {
	Key      string
	Pos      int
	Operator string // the operator name, when one was read
	Reason   string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	if e.Key != "" {
		fmt.Fprintf(&b, "json key %q: ", e.Key)
	}
	if e.Operator != "" {
		fmt.Fprintf(&b, "%%%s%% at position %d: %s", e.Operator, e.Pos, e.Reason)
	} else {
		fmt.Fprintf(&b, "position %d: %s", e.Pos, e.Reason)
	}
	return b.String()
}

type opKind uint8

const (
	opLiteral opKind = iota
	opStartTime
	opReq  // request header with optional alternative
	opResp // response header with optional alternative
	opProtocol
	opResponseCode
	opResponseFlags
	opBytesReceived
	opBytesSent
	opDuration
	opResponseDuration
	opResponseTxDuration
	opUpstreamHost
	opUpstreamCluster
	opRemoteAddr
	opRemoteAddrNoPort
	opLocalAddr
	opLocalAddrNoPort
	opServerName
	opRouteName
	opFailureReason
	opHostname
	opVirtualService
	opModel
	opRetries
	opPromptTokens
	opCompletionTokens
)

// argRule says whether an operator takes a (ARG).
type argRule uint8

const (
	argNone argRule = iota
	argRequired
	argOptional
)

var operators = map[string]struct {
	op  opKind
	arg argRule
}{
	"START_TIME":                             {opStartTime, argOptional},
	"REQ":                                    {opReq, argRequired},
	"REQUEST_HEADER":                         {opReq, argRequired},
	"RESP":                                   {opResp, argRequired},
	"RESPONSE_HEADER":                        {opResp, argRequired},
	"PROTOCOL":                               {opProtocol, argNone},
	"RESPONSE_CODE":                          {opResponseCode, argNone},
	"RESPONSE_FLAGS":                         {opResponseFlags, argNone},
	"BYTES_RECEIVED":                         {opBytesReceived, argNone},
	"BYTES_SENT":                             {opBytesSent, argNone},
	"DURATION":                               {opDuration, argNone},
	"RESPONSE_DURATION":                      {opResponseDuration, argNone},
	"RESPONSE_TX_DURATION":                   {opResponseTxDuration, argNone},
	"UPSTREAM_HOST":                          {opUpstreamHost, argNone},
	"UPSTREAM_CLUSTER":                       {opUpstreamCluster, argNone},
	"DOWNSTREAM_REMOTE_ADDRESS":              {opRemoteAddr, argNone},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": {opRemoteAddrNoPort, argNone},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS":       {opRemoteAddr, argNone},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": {opRemoteAddrNoPort, argNone},
	"DOWNSTREAM_LOCAL_ADDRESS":                      {opLocalAddr, argNone},
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":         {opLocalAddrNoPort, argNone},
	"REQUESTED_SERVER_NAME":                         {opServerName, argNone},
	"ROUTE_NAME":                                    {opRouteName, argNone},
	"UPSTREAM_TRANSPORT_FAILURE_REASON":             {opFailureReason, argNone},
	"HOSTNAME":                                      {opHostname, argNone},
	"AIMESH_VIRTUAL_SERVICE":                        {opVirtualService, argNone},
	"AIMESH_MODEL":                                  {opModel, argNone},
	"AIMESH_RETRIES":                                {opRetries, argNone},
	"AIMESH_PROMPT_TOKENS":                          {opPromptTokens, argNone},
	"AIMESH_COMPLETION_TOKENS":                      {opCompletionTokens, argNone},
}

// hdrRef names one header of a %REQ(...)% or %RESP(...)%: a pseudo-header
// (:METHOD, :PATH, :AUTHORITY, :SCHEME, and X-ENVOY-ORIGINAL-PATH, which
// aimesh keeps in Entry.OriginalPath) or a canonical header key.
type hdrRef struct {
	pseudo pseudoHdr
	key    string
}

type pseudoHdr uint8

const (
	hdrPlain pseudoHdr = iota
	hdrMethod
	hdrPath
	hdrAuthority
	hdrScheme
	hdrOriginalPath
	hdrUnknownPseudo // a pseudo-header aimesh does not have: always "-"
)

// segment is one compiled piece of a format: literal text or an operator.
type segment struct {
	op     opKind
	lit    string // opLiteral text; also the HOSTNAME value
	hdr    [2]hdrRef
	nhdr   int
	maxLen int        // :N truncation, 0 for none
	tf     []timePart // START_TIME(FORMAT); nil means the default format
}

// compileFormat parses an Envoy format string into segments.
func compileFormat(s string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{op: opLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '%')
		if j < 0 {
			lit.WriteString(s[i:])
			break
		}
		lit.WriteString(s[i : i+j])
		i += j
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		seg, next, err := parseOperator(s, i)
		if err != nil {
			return nil, err
		}
		flush()
		segs = append(segs, seg)
		i = next
	}
	flush()
	return segs, nil
}

func isNameByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// parseOperator parses the command operator starting at s[pos] == '%' and
// returns it with the offset just past its closing '%'.
func parseOperator(s string, pos int) (segment, int, error) {
	k := pos + 1
	for k < len(s) && isNameByte(s[k]) {
		k++
	}
	name := s[pos+1 : k]
	if name == "" {
		return segment{}, 0, &FormatError{Pos: pos, Reason: `'%' does not start a command operator (write %% for a literal percent sign)`}
	}
	fail := func(reason string) (segment, int, error) {
		return segment{}, 0, &FormatError{Pos: pos, Operator: name, Reason: reason}
	}
	var arg string
	hasArg := false
	if k < len(s) && s[k] == '(' {
		end := strings.IndexByte(s[k:], ')')
		if end < 0 {
			return fail("unterminated '('")
		}
		arg, hasArg = s[k+1:k+end], true
		k += end + 1
	}
	maxLen := 0
	if k < len(s) && s[k] == ':' {
		d := k + 1
		for d < len(s) && s[d] >= '0' && s[d] <= '9' {
			d++
		}
		n, err := strconv.Atoi(s[k+1 : d])
		if err != nil || n <= 0 {
			return fail("':' must be followed by a positive length")
		}
		maxLen, k = n, d
	}
	if k >= len(s) || s[k] != '%' {
		return fail("missing closing '%'")
	}
	def, ok := operators[name]
	if !ok {
		return fail("unknown command operator")
	}
	switch {
	case def.arg == argRequired && (!hasArg || arg == ""):
		return fail("needs an argument, e.g. %" + name + "(X-REQUEST-ID)%")
	case def.arg == argNone && hasArg:
		return fail("takes no argument")
	}
	seg := segment{op: def.op, maxLen: maxLen}
	switch def.op {
	case opReq, opResp:
		parts := strings.Split(arg, "?")
		if len(parts) > 2 {
			return fail("more than one alternative header")
		}
		for i, p := range parts {
			if p == "" {
				return fail("empty header name")
			}
			seg.hdr[i] = headerRef(p, def.op == opReq)
		}
		seg.nhdr = len(parts)
	case opStartTime:
		if hasArg && arg != "" {
			seg.tf = compileStrftime(arg)
		}
	case opHostname:
		seg.lit, _ = os.Hostname()
	}
	return seg, k + 1, nil
}

func headerRef(name string, request bool) hdrRef {
	if request {
		switch strings.ToUpper(name) {
		case ":METHOD":
			return hdrRef{pseudo: hdrMethod}
		case ":PATH":
			return hdrRef{pseudo: hdrPath}
		case ":AUTHORITY", "HOST":
			return hdrRef{pseudo: hdrAuthority}
		case ":SCHEME":
			return hdrRef{pseudo: hdrScheme}
		case "X-ENVOY-ORIGINAL-PATH":
			return hdrRef{pseudo: hdrOriginalPath, key: "X-Envoy-Original-Path"}
		}
	}
	if strings.HasPrefix(name, ":") {
		return hdrRef{pseudo: hdrUnknownPseudo}
	}
	return hdrRef{key: textproto.CanonicalMIMEHeaderKey(name)}
}

// jsonField is one compiled key of a JSON format.
type jsonField struct {
	prefix string // `{"key":` or `,"key":`, escaped
	segs   []segment
	typed  bool // the value is exactly one operator: numbers stay numbers, missing is null
}

// compiled is a whole compiled format: text or JSON.
type compiled struct {
	text []segment
	json []jsonField
}

// compile compiles a LoggingFormat; nil means DefaultTextFormat. Text
// formats end with exactly one newline: one is added unless the format
// already ends with a newline (or with the two characters `\n`, as in a
// format copied from Envoy's docs into an unquoted YAML string).
func compile(f *v1alpha1.LoggingFormat) (*compiled, error) {
	if f == nil {
		return compileText(DefaultTextFormat)
	}
	switch {
	case f.Text != nil && len(f.JSON) > 0:
		return nil, errors.New("format: set exactly one of text and json, not both")
	case f.Text != nil:
		if *f.Text == "" {
			return nil, errors.New("format.text: must not be empty")
		}
		return compileText(*f.Text)
	case len(f.JSON) > 0:
		return compileJSON(f.JSON)
	}
	return nil, errors.New("format: set exactly one of text and json")
}

func compileText(s string) (*compiled, error) {
	if t, ok := strings.CutSuffix(s, `\n`); ok {
		s = t + "\n"
	}
	segs, err := compileFormat(s)
	if err != nil {
		return nil, fmt.Errorf("format.text: %w", err)
	}
	if n := len(segs); n > 0 && segs[n-1].op == opLiteral {
		if !strings.HasSuffix(segs[n-1].lit, "\n") {
			segs[n-1].lit += "\n"
		}
	} else {
		segs = append(segs, segment{op: opLiteral, lit: "\n"})
	}
	return &compiled{text: segs}, nil
}

func compileJSON(refs []v1alpha1.JSONFormatRef) (*compiled, error) {
	seen := make(map[string]bool, len(refs))
	fields := make([]jsonField, 0, len(refs))
	for i, r := range refs {
		if r.Key == "" {
			return nil, fmt.Errorf("format.json[%d].key: must not be empty", i)
		}
		if seen[r.Key] {
			return nil, fmt.Errorf("format.json[%d].key: duplicate key %q", i, r.Key)
		}
		seen[r.Key] = true
		segs, err := compileFormat(r.Value)
		if err != nil {
			var fe *FormatError
			if errors.As(err, &fe) {
				fe.Key = r.Key
			}
			return nil, fmt.Errorf("format.json[%d].value: %w", i, err)
		}
		typed := len(segs) == 1 && segs[0].op != opLiteral
		if !typed {
			for j := range segs {
				if segs[j].op == opLiteral {
					segs[j].lit = string(jsonstr.AppendInner(nil, segs[j].lit))
				}
			}
		}
		sep := ","
		if i == 0 {
			sep = "{"
		}
		fields = append(fields, jsonField{
			prefix: string(jsonstr.AppendQuoted([]byte(sep), r.Key)) + ":",
			segs:   segs,
			typed:  typed,
		})
	}
	return &compiled{json: fields}, nil
}

// ValidateFormat reports whether f compiles: every command operator known
// and well formed, exactly one of text and json, JSON keys unique. A nil
// format is valid (it means the default). Errors wrap a *FormatError when a
// command operator is at fault.
func ValidateFormat(f *v1alpha1.LoggingFormat) error {
	_, err := compile(f)
	return err
}
