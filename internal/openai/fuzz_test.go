package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// seeds are realistic request bodies and the corner cases of the grammar.
var seeds = []string{
	`{"model":"llama-3.1-8b-instruct","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello!"}],"max_tokens":64,"temperature":0.2}`,
	`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}`,
	`{"model":"Qwen/Qwen2.5-7B-Instruct","prompt":"Once upon a time","max_tokens":16,"n":2,"logprobs":null,"stop":["\n\n","END"],"seed":-1,"top_p":1e0}`,
	`{"messages":[{"role":"user","content":"say \"hi\"\\n\u00e9\ud83d\ude00"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto","model":"mistral-7b"}`,
	`{"input":["a","b"],"model":"text-embedding-3-small","encoding_format":"float"}`,
	"{\n  \"model\": \"llama\",\n  \"stream\": false\n}\n",
	`{"model":"a","model":"b"}`,
	`{"model":1,"model":"b"}`,
	`{"model":null}`,
	`{"mod\u0065l":"x\ud800y"}`,
	"{\"model\":\"\xff\xfe\"}",
	`{"stream":true,"stream_options":{"include_usage":true},"stream_options":null}`,
	`[{"model":"m"}]`,
	`{"model":"m",}`,
	`{"a":[1,2,{"b":[]}],"c":-0.0e-0}`,
	`{"a":01}`,
	`{"a":"\u00"}`,
	`{"a":tru}`,
	`{"a":[}`,
	``,
	` `,
	`{}`,
	`{"model":"m"}x`,
}

func FuzzInspect(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := Inspect(body)
		checkStdlib(t, body, info, err)
	})
}

// TestInspectMatchesStdlib runs the fuzz checks on the seeds and on
// documents from the benchmarks.
func TestInspectMatchesStdlib(t *testing.T) {
	bodies := [][]byte{chatBody(1<<10, false), chatBody(64<<10, true)}
	for _, s := range seeds {
		bodies = append(bodies, []byte(s))
	}
	for _, body := range bodies {
		info, err := Inspect(body)
		checkStdlib(t, body, info, err)
	}
}

// checkStdlib compares Inspect's answer with encoding/json's: the same
// validity, the same model (last key wins), the same stream flags.
func checkStdlib(t *testing.T, body []byte, info Info, err error) {
	t.Helper()
	if !json.Valid(body) {
		if !errors.Is(err, ErrBadJSON) {
			t.Fatalf("Inspect(%q) = %+v, %v; encoding/json says invalid", body, info, err)
		}
		return
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); trimmed[0] != '{' {
		if !errors.Is(err, ErrBadJSON) {
			t.Fatalf("Inspect(%q) = %+v, %v; want ErrBadJSON for a non-object", body, info, err)
		}
		return
	}
	var m map[string]json.RawMessage
	if uerr := json.Unmarshal(body, &m); uerr != nil {
		t.Fatalf("encoding/json: %v", uerr)
	}
	raw, ok := m["model"]
	var want Info
	switch {
	case !ok:
	case raw[0] == '"':
		if uerr := json.Unmarshal(raw, &want.Model); uerr != nil {
			t.Fatalf("encoding/json: %v", uerr)
		}
	default:
		if !errors.Is(err, ErrModelNotString) {
			t.Fatalf("Inspect(%q) = %+v, %v; want ErrModelNotString", body, info, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Inspect(%q): %v; encoding/json says valid", body, err)
	}
	want.Stream = string(m["stream"]) == "true"
	if so := m["stream_options"]; len(so) > 0 && so[0] == '{' {
		var opts map[string]json.RawMessage
		if uerr := json.Unmarshal(so, &opts); uerr != nil {
			t.Fatalf("encoding/json: %v", uerr)
		}
		want.IncludeUsage = string(opts["include_usage"]) == "true"
	}
	want.Prompt = m["messages"]
	if want.Prompt == nil {
		want.Prompt = m["prompt"]
	}
	want.MaxTokens = intLiteral(m["max_tokens"])
	if mc, ok := m["max_completion_tokens"]; ok {
		want.MaxTokens = intLiteral(mc)
	}
	if !sameInfo(info, want) {
		t.Fatalf("Inspect(%q) = %+v, encoding/json says %+v", body, info, want)
	}
}
