package sim

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRequest(t *testing.T) {
	chatPrompt := func(msgs ...Message) string { return RenderChat(msgs) }
	tests := []struct {
		name     string
		kind     reqKind
		body     string
		want     genRequest // kind is not compared
		wantCode string     // error code, "" for success
	}{
		{"chat string content", kindChat,
			`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"system", "s"}, Message{"user", "hi"})}, ""},
		{"chat content parts, images ignored", kindChat,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"user", "ab"})}, ""},
		{"chat null content", kindChat,
			`{"model":"m","messages":[{"role":"assistant","content":null}]}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"assistant", ""})}, ""},
		{"stream with usage", kindChat,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":7}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"user", "x"}), stream: true, includeUsage: true, maxTokens: 7}, ""},
		{"include_usage without stream is ignored", kindChat,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"user", "x"})}, ""},
		{"max_completion_tokens wins", kindChat,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":7,"max_completion_tokens":3}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"user", "x"}), maxTokens: 3}, ""},
		{"unknown fields ignored", kindChat,
			`{"model":"m","messages":[{"role":"user","content":"x","name":"n"}],"temperature":0.2,"tools":[]}`,
			genRequest{model: "m", prompt: chatPrompt(Message{"user", "x"})}, ""},
		{"completion string", kindCompletion, `{"model":"m","prompt":"abc"}`, genRequest{model: "m", prompt: "abc"}, ""},
		{"completion one string in array", kindCompletion, `{"model":"m","prompt":["abc"]}`, genRequest{model: "m", prompt: "abc"}, ""},
		{"completion token ids", kindCompletion, `{"model":"m","prompt":[1,2]}`, genRequest{model: "m", prompt: "\x01\x00\x00\x00\x02\x00\x00\x00"}, ""},
		{"completion nested token ids", kindCompletion, `{"model":"m","prompt":[[1]]}`, genRequest{model: "m", prompt: "\x01\x00\x00\x00"}, ""},

		{"bad json", kindChat, `{"model":`, genRequest{}, "invalid_json"},
		{"wrong type", kindChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`, genRequest{}, "invalid_json"},
		{"missing model", kindChat, `{"messages":[{"role":"user","content":"x"}]}`, genRequest{}, "missing_model"},
		{"no messages", kindChat, `{"model":"m","messages":[]}`, genRequest{}, "missing_messages"},
		{"no role", kindChat, `{"model":"m","messages":[{"content":"x"}]}`, genRequest{}, "invalid_message"},
		{"content object", kindChat, `{"model":"m","messages":[{"role":"user","content":{"a":1}}]}`, genRequest{}, "invalid_message"},
		{"n=2", kindChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`, genRequest{}, "unsupported_n"},
		{"max_tokens 0", kindChat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, genRequest{}, "invalid_max_tokens"},
		{"missing prompt", kindCompletion, `{"model":"m"}`, genRequest{}, "invalid_prompt"},
		{"two prompts", kindCompletion, `{"model":"m","prompt":["a","b"]}`, genRequest{}, "invalid_prompt"},
		{"prompt object", kindCompletion, `{"model":"m","prompt":{}}`, genRequest{}, "invalid_prompt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequest(tt.kind, []byte(tt.body))
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("parsed %+v, want error %s", got, tt.wantCode)
				}
				if err.code != tt.wantCode || err.status != 400 {
					t.Fatalf("error %v, want 400 %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			tt.want.kind = tt.kind
			if *got != tt.want {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(false, `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	f.Add(false, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"max_tokens":3}`)
	f.Add(true, `{"model":"m","prompt":[[1,2,3]],"max_completion_tokens":2}`)
	f.Add(true, `{"model":"m","prompt":["x"]}`)
	f.Add(true, `{"model":`)
	f.Fuzz(func(t *testing.T, completion bool, body string) {
		kind := kindChat
		if completion {
			kind = kindCompletion
		}
		r, err := parseRequest(kind, []byte(body))
		if err != nil {
			if err.status != 400 || err.code == "" || err.message == "" {
				t.Fatalf("bad error %+v", err)
			}
			return
		}
		if r.model == "" || r.maxTokens < 0 || promptTokens(r.prompt) < 1 {
			t.Fatalf("accepted a bad request: %+v", r)
		}
		if kind == kindChat && (!strings.HasSuffix(r.prompt, "<|im_start|>assistant\n") || (utf8.ValidString(body) && !utf8.ValidString(r.prompt))) {
			t.Fatalf("chat prompt not rendered: %q", r.prompt)
		}
		if r.includeUsage && !r.stream {
			t.Fatal("include_usage without stream")
		}
	})
}
