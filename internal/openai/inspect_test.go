package openai

import (
	"errors"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Info
	}{
		{"chat", `{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"hi"}]}`,
			Info{Model: "llama-3.1-8b-instruct", Prompt: []byte(`[{"role":"user","content":"hi"}]`)}},
		{"model last", `{"messages":[{"role":"user","content":"a \"quoted\" {brace} [x]"}],"temperature":0.7,"model":"m"}`,
			Info{Model: "m", Prompt: []byte(`[{"role":"user","content":"a \"quoted\" {brace} [x]"}]`)}},
		{"whitespace", " \t\r\n{ \"model\" :\n\"m\" , \"stream\" : true }\n ", Info{Model: "m", Stream: true}},
		{"stream with usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
			Info{Model: "m", Stream: true, IncludeUsage: true}},
		{"stream false", `{"model":"m","stream":false,"stream_options":{"include_usage":false}}`, Info{Model: "m"}},
		{"stream string is not true", `{"model":"m","stream":"true"}`, Info{Model: "m"}},
		{"stream null", `{"stream":null}`, Info{}},
		{"stream_options null", `{"stream":true,"stream_options":null}`, Info{Stream: true}},
		{"stream_options other keys", `{"stream_options":{"x":[1,{"include_usage":true}],"include_usage":true,"y":{}}}`,
			Info{IncludeUsage: true}},
		{"last stream wins", `{"stream":true,"stream":false}`, Info{}},
		{"last stream_options wins", `{"stream_options":{"include_usage":true},"stream_options":{}}`, Info{}},
		{"missing model", `{"messages":[]}`, Info{Prompt: []byte("[]")}},
		{"empty object", `{}`, Info{}},
		{"empty model", `{"model":""}`, Info{}},
		{"nested model ignored", `{"tools":[{"model":"no"}],"metadata":{"model":"no"}}`, Info{}},
		{"last model wins", `{"model":"a","model":"b"}`, Info{Model: "b"}},
		{"non-string then string", `{"model":1,"model":"b"}`, Info{Model: "b"}},
		{"escaped model", `{"model":"llama\u002d3\/8b \"x\"\\\n"}`, Info{Model: "llama-3/8b \"x\"\\\n"}},
		{"surrogate pair", `{"model":"\ud83e\udd99"}`, Info{Model: "🦙"}},
		{"lone surrogate", `{"model":"a\ud83eb"}`, Info{Model: "a\uFFFDb"}},
		{"surrogate then non-low escape", `{"model":"\ud83e\u0041"}`, Info{Model: "\uFFFDA"}},
		{"utf8 model", `{"model":"modèle-日本"}`, Info{Model: "modèle-日本"}},
		{"invalid utf8 model", "{\"model\":\"a\xffb\"}", Info{Model: "a\uFFFDb"}},
		{"escaped key", `{"mod\u0065l":"m","str\u0065am":true}`, Info{Model: "m", Stream: true}},
		{"similar keys", `{"Model":"x","models":"y","stream_":true}`, Info{}},
		{"numbers", `{"a":-0.5e+10,"b":0,"c":1E-2,"d":123,"model":"m"}`, Info{Model: "m"}},
		{"literals", `{"a":[true,false,null],"model":"m"}`, Info{Model: "m"}},
		{"completion prompt", `{"prompt":"Once upon" , "max_tokens":16}`, Info{Prompt: []byte(`"Once upon"`), MaxTokens: 16}},
		{"messages win over prompt", `{"messages":[1],"prompt":"p"}`, Info{Prompt: []byte("[1]")}},
		{"token id prompt", `{"prompt":[1,2,3]}`, Info{Prompt: []byte("[1,2,3]")}},
		{"max_completion_tokens wins", `{"max_completion_tokens":7,"max_tokens":9}`, Info{MaxTokens: 7}},
		{"max_tokens not an integer", `{"max_tokens":1.5}`, Info{}},
		{"max_tokens negative", `{"max_tokens":-3}`, Info{}},
		{"max_tokens null", `{"max_tokens":null}`, Info{}},
		{"escaped messages key", `{"m\u0065ssages":[2]}`, Info{Prompt: []byte("[2]")}},
		{"nested messages ignored", `{"metadata":{"messages":[3]}}`, Info{}},
		{"deep nesting ok", `{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `,"model":"m"}`, Info{Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect([]byte(tt.body))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if !sameInfo(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		is   error
		msg  string // substring of the message
	}{
		{"empty", ``, ErrBadJSON, "unexpected end of input at offset 0"},
		{"blank", "  \n", ErrBadJSON, "unexpected end of input at offset 3"},
		{"array", `[{"model":"m"}]`, ErrBadJSON, "must be a JSON object, got an array"},
		{"string", `"m"`, ErrBadJSON, "got a string"},
		{"null", `null`, ErrBadJSON, "got null"},
		{"number", ` 12 `, ErrBadJSON, "got a number"},
		{"bad top-level", `nul`, ErrBadJSON, "unexpected end of input"},
		{"garbage", `model=m`, ErrBadJSON, "unexpected 'm' looking for beginning of value at offset 0"},
		{"unclosed", `{"model":"m"`, ErrBadJSON, "unexpected end of input at offset 12"},
		{"unclosed string", `{"model":"m`, ErrBadJSON, "end of input"},
		{"missing value", `{"model":}`, ErrBadJSON, "unexpected '}' looking for beginning of value at offset 9"},
		{"missing colon", `{"model" "m"}`, ErrBadJSON, `unexpected '"' after object key at offset 9`},
		{"trailing comma", `{"model":"m",}`, ErrBadJSON, "unexpected '}' looking for beginning of object key string at offset 13"},
		{"leading comma", `{,"model":"m"}`, ErrBadJSON, "object key"},
		{"unquoted key", `{model:"m"}`, ErrBadJSON, "unexpected 'm' looking for beginning of object key string at offset 1"},
		{"single quotes", `{'model':'m'}`, ErrBadJSON, `unexpected "'"`},
		{"missing comma", `{"a":1 "model":"m"}`, ErrBadJSON, "after object key:value pair at offset 7"},
		{"trailing data", `{"model":"m"} {}`, ErrBadJSON, "unexpected '{' after top-level value at offset 14"},
		{"array trailing comma", `{"a":[1,]}`, ErrBadJSON, "unexpected ']' looking for beginning of value at offset 8"},
		{"mismatched", `{"a":[1}`, ErrBadJSON, "unexpected '}' after array element at offset 7"},
		{"mismatched object", `{"a":{"b":1]}`, ErrBadJSON, "after object key:value pair"},
		{"nested key not string", `{"a":{1:2}}`, ErrBadJSON, "object key string"},
		{"control char", "{\"model\":\"a\tb\"}", ErrBadJSON, "unexpected byte 0x09 in string literal at offset 11"},
		{"bad escape", `{"model":"a\xb"}`, ErrBadJSON, "in string escape code"},
		{"short unicode escape", `{"model":"\u12"}`, ErrBadJSON, "hexadecimal"},
		{"leading zero", `{"a":01}`, ErrBadJSON, "unexpected '1'"},
		{"bare minus", `{"a":-}`, ErrBadJSON, "in numeric literal"},
		{"no fraction digits", `{"a":1.}`, ErrBadJSON, "in numeric literal"},
		{"no exponent digits", `{"a":1e+}`, ErrBadJSON, "in numeric literal"},
		{"plus sign", `{"a":+1}`, ErrBadJSON, "beginning of value"},
		{"bad literal", `{"stream":tru}`, ErrBadJSON, "in literal true"},
		{"capital literal", `{"stream":True}`, ErrBadJSON, "beginning of value"},
		{"NaN", `{"a":NaN}`, ErrBadJSON, "beginning of value"},
		{"comment", `{"a":1/*x*/}`, ErrBadJSON, "after object key:value pair"},
		{"bad in stream_options", `{"stream_options":{"include_usage":tru}}`, ErrBadJSON, "in literal true"},
		{"stream_options unclosed", `{"stream_options":{"include_usage":true}`, ErrBadJSON, "end of input"},
		{"error after model", `{"model":"m","x":[}`, ErrBadJSON, "beginning of value"},
		{"too deep", `{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, ErrBadJSON, "nesting deeper than 10000 levels"},
		{"model number", `{"model":42}`, ErrModelNotString, `"model" must be a string, got a number`},
		{"model null", `{"model":null}`, ErrModelNotString, "got null"},
		{"model object", `{"model":{"name":"m"}}`, ErrModelNotString, "got an object"},
		{"model array", `{"model":["m"]}`, ErrModelNotString, "got an array"},
		{"model bool", `{"model":true}`, ErrModelNotString, "got a boolean"},
		{"last model not string", `{"model":"m","model":false}`, ErrModelNotString, "got a boolean"},
		{"syntax error wins over model type", `{"model":1,}`, ErrBadJSON, "object key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect([]byte(tt.body))
			if err == nil {
				t.Fatalf("Inspect = %+v, want error", got)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if !sameInfo(got, Info{}) {
				t.Errorf("Info = %+v with an error, want zero", got)
			}
		})
	}
}

func TestInspectSyntaxErrorPrefix(t *testing.T) {
	_, err := Inspect([]byte(`{"model":`))
	const want = "request body is not valid JSON: unexpected end of input at offset 9"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// TestInspectAllocs checks that the common case (an unescaped model)
// allocates only the model string.
func TestInspectAllocs(t *testing.T) {
	body := chatBody(64<<10, false)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Inspect(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Inspect allocates %v times per call, want at most 1", allocs)
	}
	noModel := []byte(`{"messages":[{"role":"user","content":"hi\n"}],"mod\u0065ls":1}`)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := Inspect(noModel); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Inspect without a model allocates %v times per call, want 0", allocs)
	}
}

// sameInfo compares two Infos field by field (Prompt is a slice).
func sameInfo(a, b Info) bool {
	return a.Model == b.Model && a.Stream == b.Stream && a.IncludeUsage == b.IncludeUsage &&
		a.MaxTokens == b.MaxTokens && string(a.Prompt) == string(b.Prompt) && (a.Prompt == nil) == (b.Prompt == nil)
}
