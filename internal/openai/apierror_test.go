package openai

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/aimesh/aimesh/internal/jsonstr"
)

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, 404, TypeInvalidRequest, CodeModelNotFound, `model "llama-3.1-70b" is not served`)
	if w.Code != 404 {
		t.Errorf("status %d, want 404", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length %q for a %d-byte body", cl, w.Body.Len())
	}
	const want = `{"error":{"message":"model \"llama-3.1-70b\" is not served","type":"invalid_request_error","code":"model_not_found"}}` + "\n"
	if got := w.Body.String(); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

func TestAppendError(t *testing.T) {
	tests := []struct {
		name, typ, code, msg string
	}{
		{"plain", TypeUpstream, CodeUpstreamTimeout, "upstream llm-v1 did not answer in 30s"},
		{"no code", TypeInvalidRequest, "", "bad"},
		{"escapes", TypeInvalidRequest, CodeBadJSON, "a\"b\\c\nd\re\tf\x00g\x1fh</script>&"},
		{"unicode", TypeUpstream, CodeNoHealthyUpstream, "modèle 日本 🦙 \u2028\u2029"},
		{"invalid utf8", TypeUpstream, CodeEgressDenied, "a\xffb\xc3"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendError(nil, tt.typ, tt.code, tt.msg)
			var got struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			// encoding/json decodes invalid UTF-8 the way it encodes it.
			wantMsg, _ := json.Marshal(tt.msg)
			var decoded string
			_ = json.Unmarshal(wantMsg, &decoded)
			if got.Error.Message != decoded || got.Error.Type != tt.typ {
				t.Errorf("decoded %+v from %s", got.Error, b)
			}
			if (tt.code == "") != (got.Error.Code == nil) || (got.Error.Code != nil && *got.Error.Code != tt.code) {
				t.Errorf("code %v, want %q", got.Error.Code, tt.code)
			}
			// Same escaping as encoding/json, minus its HTML escaping.
			var std []byte
			std = appendStdQuoted(t, tt.msg)
			if q := jsonstr.AppendQuoted(nil, tt.msg); string(q) != string(std) {
				t.Errorf("appendQuoted = %s, encoding/json (no HTML escape) = %s", q, std)
			}
		})
	}
}

func appendStdQuoted(t *testing.T, s string) []byte {
	t.Helper()
	var buf = new(jsonBuffer)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return buf.b[:len(buf.b)-1]
}

type jsonBuffer struct{ b []byte }

func (w *jsonBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func TestWriteErrorAllocs(t *testing.T) {
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		w.Body.Reset()
		clear(w.Header())
		WriteError(w, 503, TypeUpstream, CodeNoHealthyUpstream, "no healthy endpoint for llm-v1")
	})
	// Header values ([]string for Content-Type and Content-Length) and
	// the Content-Length digits; the body buffer is pooled.
	if allocs > 3 {
		t.Errorf("WriteError allocates %v times, want at most 3", allocs)
	}
}

func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n", "\xff\u2028é", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := jsonstr.AppendQuoted(nil, s), appendStdQuoted(t, s); string(got) != string(want) {
			t.Fatalf("appendQuoted(%q) = %s, encoding/json = %s", s, got, want)
		}
	})
}
