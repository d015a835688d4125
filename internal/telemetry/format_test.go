package telemetry

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/api/v1alpha1"
)

func testEntry() *Entry {
	return &Entry{
		Start:        time.Date(2026, 3, 7, 9, 4, 5, 123456789, time.UTC),
		Method:       "POST",
		Scheme:       "https",
		Authority:    "ai-api-service.local",
		Path:         "/v1/chat/completions?x=1",
		OriginalPath: "/openai/v1/chat/completions?x=1",
		Protocol:     "HTTP/1.1",
		ServerName:   "api.example.com",
		RequestHeader: http.Header{
			"User-Agent":      {"curl/8.5.0"},
			"X-Request-Id":    {"req-123"},
			"X-Forwarded-For": {"10.0.0.1", "10.0.0.2"},
		},
		ResponseHeader: http.Header{
			"X-Envoy-Upstream-Service-Time": {"42"},
			"Content-Type":                  {"text/event-stream"},
		},
		Code:             200,
		Flags:            "URX",
		BytesReceived:    154,
		BytesSent:        2048,
		Duration:         1234*time.Millisecond + 900*time.Microsecond,
		TTFB:             87 * time.Millisecond,
		UpstreamHost:     "10.1.2.3:8000",
		VirtualNode:      "vllm-a",
		VirtualService:   "ai-api-service.local",
		Route:            "chat",
		Model:            "llama-3-8b",
		RemoteAddr:       "192.0.2.7:54321",
		LocalAddr:        "[::1]:8080",
		FailureReason:    "",
		Retries:          2,
		PromptTokens:     17,
		CompletionTokens: 256,
	}
}

func textLine(t *testing.T, format string, e *Entry) string {
	t.Helper()
	f, err := NewFormatter(&v1alpha1.LoggingFormat{Text: &format})
	if err != nil {
		t.Fatalf("NewFormatter(%q): %v", format, err)
	}
	line := string(f.Append(nil, e))
	if !strings.HasSuffix(line, "\n") {
		t.Fatalf("line %q does not end in a newline", line)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestTextOperators(t *testing.T) {
	tests := []struct {
		format string
		want   string
	}{
		{"%START_TIME%", "2026-03-07T09:04:05.123Z"},
		{"%START_TIME(%Y-%m-%dT%H:%M:%S)%", "2026-03-07T09:04:05"},
		{"%START_TIME(%s.%3f)%", "1772874245.123"},
		{"%START_TIME(%F %T.%6f %z %Z)%", "2026-03-07 09:04:05.123456 +0000 UTC"},
		{"%START_TIME(%a %b %e %j %y %I%p %%)%", "Sat Mar  7 066 26 09AM %"},
		{"%START_TIME(%f|%Q)%", "123456789|%Q"},
		{"%REQ(:METHOD)%", "POST"},
		{"%REQ(:method)%", "POST"},
		{"%REQ(:PATH)%", "/v1/chat/completions?x=1"},
		{"%REQ(:AUTHORITY)%", "ai-api-service.local"},
		{"%REQ(:SCHEME)%", "https"},
		{"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "/openai/v1/chat/completions?x=1"},
		{"%REQ(USER-AGENT)%", "curl/8.5.0"},
		{"%REQ(user-agent)%", "curl/8.5.0"},
		{"%REQUEST_HEADER(X-REQUEST-ID)%", "req-123"},
		{"%REQ(X-FORWARDED-FOR)%", "10.0.0.1"},
		{"%REQ(X-MISSING)%", "-"},
		{"%REQ(X-MISSING?USER-AGENT)%", "curl/8.5.0"},
		{"%REQ(X-MISSING?X-ALSO-MISSING)%", "-"},
		{"%REQ(USER-AGENT):4%", "curl"},
		{"%REQ(:PATH):3%", "/v1"},
		{"%REQ(:STATUS)%", "-"},
		{"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "42"},
		{"%RESPONSE_HEADER(content-type)%", "text/event-stream"},
		{"%RESP(X-MISSING?CONTENT-TYPE):4%", "text"},
		{"%PROTOCOL%", "HTTP/1.1"},
		{"%RESPONSE_CODE%", "200"},
		{"%RESPONSE_FLAGS%", "URX"},
		{"%BYTES_RECEIVED%", "154"},
		{"%BYTES_SENT%", "2048"},
		{"%DURATION%", "1234"},
		{"%RESPONSE_DURATION%", "87"},
		{"%RESPONSE_TX_DURATION%", "1147"},
		{"%UPSTREAM_HOST%", "10.1.2.3:8000"},
		{"%UPSTREAM_CLUSTER%", "vllm-a"},
		{"%DOWNSTREAM_REMOTE_ADDRESS%", "192.0.2.7:54321"},
		{"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "192.0.2.7"},
		{"%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%", "192.0.2.7"},
		{"%DOWNSTREAM_LOCAL_ADDRESS%", "[::1]:8080"},
		{"%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%", "::1"},
		{"%REQUESTED_SERVER_NAME%", "api.example.com"},
		{"%ROUTE_NAME%", "chat"},
		{"%UPSTREAM_TRANSPORT_FAILURE_REASON%", "-"},
		{"%AIMESH_VIRTUAL_SERVICE%", "ai-api-service.local"},
		{"%AIMESH_MODEL%", "llama-3-8b"},
		{"%AIMESH_RETRIES%", "2"},
		{"%AIMESH_PROMPT_TOKENS% %AIMESH_COMPLETION_TOKENS%", "17 256"},
		{"100%% of %RESPONSE_CODE%", "100% of 200"},
		{"plain text", "plain text"},
		{`%RESPONSE_CODE%\n`, "200"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := textLine(t, tt.format, testEntry()); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextMissingValues(t *testing.T) {
	e := &Entry{}
	tests := []struct {
		format string
		want   string
	}{
		{"%START_TIME%", "-"},
		{"%REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %REQ(USER-AGENT)%", "- - - -"},
		{"%RESP(CONTENT-TYPE)%", "-"},
		{"%PROTOCOL% %RESPONSE_FLAGS% %UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME%", "- - - - -"},
		{"%RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %AIMESH_RETRIES%", "0 0 0 0 0"},
		{"%RESPONSE_DURATION% %RESPONSE_TX_DURATION%", "- -"},
		{"%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "- -"},
		{"%AIMESH_MODEL% %AIMESH_VIRTUAL_SERVICE% %AIMESH_PROMPT_TOKENS%", "- - -"},
		{"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := textLine(t, tt.format, e); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTextOriginalPathFallsBackToPath(t *testing.T) {
	e := testEntry()
	e.OriginalPath = ""
	if got := textLine(t, "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", e); got != "/v1/chat/completions?x=1" {
		t.Errorf("got %q", got)
	}
	e.RequestHeader.Set("X-Envoy-Original-Path", "/from-header")
	if got := textLine(t, "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", e); got != "/from-header" {
		t.Errorf("got %q", got)
	}
}

func TestTextSanitizesControlCharacters(t *testing.T) {
	e := testEntry()
	e.Model = "evil\nmodel\t\x01"
	if got := textLine(t, "model=%AIMESH_MODEL%", e); got != `model=evil\nmodel\t\x01` {
		t.Errorf("got %q", got)
	}
}

func TestDefaultFormat(t *testing.T) {
	f, err := NewFormatter(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `[2026-03-07T09:04:05.123Z] "POST /openai/v1/chat/completions?x=1 HTTP/1.1" 200 URX 154 2048 1234 42 "10.0.0.1" "curl/8.5.0" "req-123" "ai-api-service.local" "10.1.2.3:8000"` + "\n"
	if got := string(f.Append(nil, testEntry())); got != want {
		t.Errorf("default line\n got %q\nwant %q", got, want)
	}
	want = `[-] "- - -" 0 - 0 0 0 - "-" "-" "-" "-" "-"` + "\n"
	if got := string(f.Append(nil, &Entry{})); got != want {
		t.Errorf("empty entry\n got %q\nwant %q", got, want)
	}
}

func TestTextNewline(t *testing.T) {
	for _, format := range []string{"%RESPONSE_CODE%", "%RESPONSE_CODE%\n", `%RESPONSE_CODE%\n`, "x %RESPONSE_CODE% y"} {
		f, err := NewFormatter(&v1alpha1.LoggingFormat{Text: &format})
		if err != nil {
			t.Fatal(err)
		}
		line := string(f.Append(nil, testEntry()))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Errorf("format %q gave %q: want exactly one trailing newline", format, line)
		}
	}
}

func TestHostname(t *testing.T) {
	h, _ := os.Hostname()
	if h == "" {
		h = "-"
	}
	if got := textLine(t, "%HOSTNAME%", &Entry{}); got != h {
		t.Errorf("got %q, want %q", got, h)
	}
}

func TestFormatErrors(t *testing.T) {
	text := func(s string) *v1alpha1.LoggingFormat { return &v1alpha1.LoggingFormat{Text: &s} }
	tests := []struct {
		name    string
		format  *v1alpha1.LoggingFormat
		wantOp  string // operator named by the *FormatError, if any
		wantMsg string
	}{
		{"unknown operator", text("%RESPONSE_CODE% %BOGUS_THING%"), "BOGUS_THING", "%BOGUS_THING% at position 16: unknown command operator"},
		{"unknown with arg", text("%FOO(bar)%"), "FOO", "unknown command operator"},
		{"lowercase operator", text("%response_code%"), "", "does not start a command operator"},
		{"stray percent", text("100% done"), "", "position 3"},
		{"unterminated", text("%RESPONSE_CODE"), "RESPONSE_CODE", "missing closing '%'"},
		{"unterminated paren", text("%REQ(USER-AGENT%"), "REQ", "unterminated '('"},
		{"REQ without header", text("%REQ%"), "REQ", "needs an argument"},
		{"REQ empty header", text("%REQ()%"), "REQ", "needs an argument"},
		{"REQ empty alternative", text("%REQ(A?)%"), "REQ", "empty header name"},
		{"two alternatives", text("%REQ(A?B?C)%"), "REQ", "more than one alternative"},
		{"arg on plain operator", text("%DURATION(ms)%"), "DURATION", "takes no argument"},
		{"bad length", text("%REQ(A):x%"), "REQ", "positive length"},
		{"zero length", text("%REQ(A):0%"), "REQ", "positive length"},
		{"both text and json", &v1alpha1.LoggingFormat{Text: new("x"), JSON: []v1alpha1.JSONFormatRef{{Key: "a", Value: "b"}}}, "", "not both"},
		{"neither", &v1alpha1.LoggingFormat{}, "", "exactly one"},
		{"empty text", text(""), "", "must not be empty"},
		{"json unknown operator", &v1alpha1.LoggingFormat{JSON: []v1alpha1.JSONFormatRef{{Key: "code", Value: "%RESPONSE_CODE%"}, {Key: "x", Value: "%NOPE%"}}}, "NOPE", `format.json[1].value: json key "x": %NOPE% at position 0`},
		{"json duplicate key", &v1alpha1.LoggingFormat{JSON: []v1alpha1.JSONFormatRef{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}}, "", "duplicate key"},
		{"json empty key", &v1alpha1.LoggingFormat{JSON: []v1alpha1.JSONFormatRef{{Key: "", Value: "1"}}}, "", "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFormat(tt.format)
			if err == nil {
				t.Fatal("ValidateFormat: no error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			var fe *FormatError
			if errors.As(err, &fe) != strings.Contains(err.Error(), "position") {
				t.Errorf("errors.As(*FormatError) = %v for %v", fe != nil, err)
			}
			if tt.wantOp != "" && fe != nil && fe.Operator != tt.wantOp {
				t.Errorf("Operator = %q, want %q", fe.Operator, tt.wantOp)
			}
			if _, err := NewAccessLogger(&v1alpha1.FileAccessLog{Path: "/dev/null", Format: tt.format}, nil); err == nil {
				t.Error("NewAccessLogger accepted the format")
			}
		})
	}
}

func TestValidFormats(t *testing.T) {
	for _, f := range []*v1alpha1.LoggingFormat{
		nil,
		{Text: new(DefaultTextFormat)},
		{Text: new("%START_TIME(%Y)% %REQ(A?B):10% 50%%")},
		{JSON: []v1alpha1.JSONFormatRef{{Key: "code", Value: "%RESPONSE_CODE%"}}},
	} {
		if err := ValidateFormat(f); err != nil {
			t.Errorf("ValidateFormat: %v", err)
		}
	}
}

func FuzzCompileFormat(f *testing.F) {
	for _, s := range []string{DefaultTextFormat, "%REQ(A?B):3%", "%START_TIME(%Y%3f%)%", "%%", "%", "%(%", "%A:%", "%REQ(:PATH)%x"} {
		f.Add(s)
	}
	e := testEntry()
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := compileFormat(s)
		if err != nil || s == "" {
			return
		}
		_ = appendText(nil, segs, e)
		c, err := compileJSON([]v1alpha1.JSONFormatRef{{Key: s, Value: s}})
		if err != nil {
			t.Fatalf("text compiled but json did not: %v", err)
		}
		if out := appendJSON(nil, new([]byte), c.json, e); !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
	})
}
