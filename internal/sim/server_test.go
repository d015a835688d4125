package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type errorResponse struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// checkErrorBody asserts an OpenAI-shaped error with the given code.
func checkErrorBody(t *testing.T, body []byte, code string) {
	t.Helper()
	var e errorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == nil {
		t.Fatalf("error body %s lacks message, type or code", body)
	}
	if code != "" && *e.Error.Code != code {
		t.Errorf("error code %q, want %q", *e.Error.Code, code)
	}
}

func TestRequestErrors(t *testing.T) {
	cfg := testConfig()
	cfg.KVBlocks, cfg.BlockSize = 16, 16 // MaxModelLen = 256 tokens
	cfg.MaxBodyBytes = 4096
	r := startServer(t, cfg)
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		code   string
	}{
		{"unknown model", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found"},
		{"unknown model completions", "/v1/completions", `{"model":"nope","prompt":"x"}`, 404, "model_not_found"},
		{"bad json", "/v1/chat/completions", `{"model":"m",`, 400, "invalid_json"},
		{"bad json completions", "/v1/completions", `not json`, 400, "invalid_json"},
		{"context too long", "/v1/completions", `{"model":"m","prompt":"` + strings.Repeat("x", 1000) + `","max_tokens":10}`, 400, "context_length_exceeded"},
		{"prompt alone too long", "/v1/completions", `{"model":"m","prompt":"` + strings.Repeat("x", 2000) + `"}`, 400, "context_length_exceeded"},
		{"body too large", "/v1/completions", `{"model":"m","prompt":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, r.URL+tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			checkErrorBody(t, body, tt.code)
		})
	}
	if st := r.Stats(); st.PrefixQueries != 0 || st.Running != 0 {
		t.Errorf("rejected requests reached the engine: %+v", st)
	}
}

func TestModelsHealthAndHeaders(t *testing.T) {
	cfg := testConfig()
	cfg.Aliases = []string{"m-alias"}
	cfg.Version = "v2"
	r := startServer(t, cfg)

	resp, body := get(t, r.URL+"/v1/models")
	var models struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &models); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/models: %d %s %v", resp.StatusCode, body, err)
	}
	if models.Object != "list" || len(models.Data) != 2 || models.Data[0].ID != "m" || models.Data[1].ID != "m-alias" || models.Data[0].Object != "model" {
		t.Errorf("/v1/models = %s", body)
	}
	if got := resp.Header.Get(HeaderServer); got != "t" {
		t.Errorf("%s = %q, want t", HeaderServer, got)
	}
	if got := resp.Header.Get(HeaderVersion); got != "v2" {
		t.Errorf("%s = %q, want v2", HeaderVersion, got)
	}

	if resp, _ := get(t, r.URL+"/health"); resp.StatusCode != 200 {
		t.Errorf("/health = %d", resp.StatusCode)
	}
	// An alias is served too, and the response names the model asked for.
	resp, body = post(t, r.URL+"/v1/completions", `{"model":"m-alias","prompt":"x","max_tokens":1}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"model":"m-alias"`) {
		t.Errorf("alias: %d %s", resp.StatusCode, body)
	}
	// Wrong method.
	if resp, _ := get(t, r.URL+"/v1/chat/completions"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/chat/completions = %d, want 405", resp.StatusCode)
	}
}

type fullResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Text         *string `json:"text"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func TestNonStreamingUsage(t *testing.T) {
	r := startServer(t, testConfig()) // DefaultMaxTokens 4
	sys := Message{"system", "You are terse."}
	user := Message{"user", "Name three colours, please."}
	tests := []struct {
		name       string
		path       string
		body       string
		object     string
		prompt     string
		completion int
		finish     string
	}{
		{"chat max_tokens", "/v1/chat/completions",
			`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name three colours, please."}],"max_tokens":9}`,
			"chat.completion", RenderChat([]Message{sys, user}), 9, "length"},
		{"chat default length", "/v1/chat/completions",
			`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			"chat.completion", RenderChat([]Message{{"user", "hi"}}), 4, "stop"},
		{"completion", "/v1/completions", `{"model":"m","prompt":"hello world","max_tokens":5}`,
			"text_completion", "hello world", 5, "length"},
		{"completion token ids", "/v1/completions", `{"model":"m","prompt":[5,6,7],"max_completion_tokens":2}`,
			"text_completion", "\x05\x00\x00\x00\x06\x00\x00\x00\x07\x00\x00\x00", 2, "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, r.URL+tt.path, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got fullResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if got.Object != tt.object || got.Model != "m" || len(got.Choices) != 1 || got.ID == "" {
				t.Fatalf("shape: %s", body)
			}
			c := got.Choices[0]
			text := ""
			if c.Message != nil {
				if c.Message.Role != "assistant" {
					t.Errorf("role %q", c.Message.Role)
				}
				text = c.Message.Content
			} else if c.Text != nil {
				text = *c.Text
			}
			u := got.Usage
			if want := CountTokens(tt.prompt); u.PromptTokens != want {
				t.Errorf("prompt_tokens %d, want %d", u.PromptTokens, want)
			}
			if u.CompletionTokens != tt.completion || CountTokens(text) != tt.completion {
				t.Errorf("completion_tokens %d, text %q (%d tokens), want %d", u.CompletionTokens, text, CountTokens(text), tt.completion)
			}
			if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("total_tokens %d != %d + %d", u.TotalTokens, u.PromptTokens, u.CompletionTokens)
			}
			if c.FinishReason != tt.finish {
				t.Errorf("finish_reason %q, want %q", c.FinishReason, tt.finish)
			}
		})
	}
	// A hand-computed case, so the approximation itself is pinned: "hello world" is 11 bytes.
	_, body := post(t, r.URL+"/v1/completions", `{"model":"m","prompt":"hello world","max_tokens":1}`)
	if !strings.Contains(string(body), `"prompt_tokens":3,"completion_tokens":1,"total_tokens":4`) {
		t.Errorf("usage of 'hello world': %s", body)
	}
}

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Delta *struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func TestStreamingShapes(t *testing.T) {
	r := startServer(t, testConfig())
	tests := []struct {
		name         string
		path         string
		body         map[string]any
		object       string
		includeUsage bool
		promptTokens int
	}{
		{"chat", "/v1/chat/completions", chatBody("m", "hello", 5), "chat.completion.chunk", false, 0},
		{"chat include_usage", "/v1/chat/completions", chatBody("m", "hello", 5), "chat.completion.chunk", true,
			CountTokens(RenderChat([]Message{{"user", "hello"}}))},
		{"completion", "/v1/completions", map[string]any{"model": "m", "prompt": "hello", "max_tokens": 5}, "text_completion", false, 0},
		{"completion include_usage", "/v1/completions", map[string]any{"model": "m", "prompt": "hello", "max_tokens": 5}, "text_completion", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.includeUsage {
				tt.body["stream_options"] = map[string]any{"include_usage": true}
			}
			res := stream(t.Context(), r.URL+tt.path, tt.body)
			if res.err != nil || res.status != 200 || !res.done {
				t.Fatalf("stream: status %d done %v err %v", res.status, res.done, res.err)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type %q", ct)
			}
			var chunks []chunk
			for _, e := range res.events {
				var c chunk
				if err := json.Unmarshal([]byte(e.data), &c); err != nil {
					t.Fatalf("chunk %q: %v", e.data, err)
				}
				if c.Object != tt.object || c.ID == "" || c.ID != res.events[0].id(t) {
					t.Fatalf("chunk shape: %s", e.data)
				}
				chunks = append(chunks, c)
			}
			var text strings.Builder
			finishes, usages := 0, 0
			for i, c := range chunks {
				if c.Usage != nil {
					usages++
					if i != len(chunks)-1 || len(c.Choices) != 0 {
						t.Errorf("usage chunk %d of %d with %d choices", i, len(chunks), len(c.Choices))
					}
					if c.Usage.PromptTokens != tt.promptTokens || c.Usage.CompletionTokens != 5 || c.Usage.TotalTokens != tt.promptTokens+5 {
						t.Errorf("usage %+v", *c.Usage)
					}
					continue
				}
				ch := c.Choices[0]
				if ch.FinishReason != nil {
					finishes++
					if *ch.FinishReason != "length" {
						t.Errorf("finish_reason %q", *ch.FinishReason)
					}
				}
				switch {
				case ch.Delta != nil && ch.Delta.Content != nil:
					text.WriteString(*ch.Delta.Content)
				case ch.Text != nil:
					text.WriteString(*ch.Text)
				}
			}
			if tt.object == "chat.completion.chunk" && chunks[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chat chunk has no assistant role: %s", res.events[0].data)
			}
			if finishes != 1 {
				t.Errorf("%d chunks with finish_reason, want 1", finishes)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.includeUsage]; usages != want {
				t.Errorf("%d usage chunks, want %d", usages, want)
			}
			if CountTokens(text.String()) != 5 {
				t.Errorf("streamed text %q is not 5 tokens", text.String())
			}
		})
	}
}

func (e sseEvent) id(t *testing.T) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.data), &c); err != nil {
		t.Fatalf("chunk %q: %v", e.data, err)
	}
	return c.ID
}
