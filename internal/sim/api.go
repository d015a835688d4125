package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

type reqKind int

const (
	kindChat       reqKind = iota // /v1/chat/completions
	kindCompletion                // /v1/completions
)

// genRequest is what the simulator needs from an OpenAI request.
type genRequest struct {
	kind         reqKind
	model        string
	prompt       string // rendered (chat) or raw (completion) prompt
	stream       bool
	includeUsage bool
	maxTokens    int // 0: not set by the client
}

// apiError is an error the client caused or is told about, OpenAI-shaped on the wire.
type apiError struct {
	status  int
	typ     string
	code    string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, message: fmt.Sprintf(format, args...)}
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// commonFields are the request fields both endpoints read; the rest are accepted and ignored.
type commonFields struct {
	Model               string         `json:"model"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	N                   *int           `json:"n"`
}

func (c *commonFields) fill(r *genRequest) *apiError {
	if c.Model == "" {
		return badRequest("missing_model", "you must provide a model parameter")
	}
	if c.N != nil && *c.N != 1 {
		return badRequest("unsupported_n", "the simulator serves n=1 only, got n=%d", *c.N)
	}
	r.model = c.Model
	r.stream = c.Stream
	r.includeUsage = c.Stream && c.StreamOptions != nil && c.StreamOptions.IncludeUsage
	mt := c.MaxTokens
	if c.MaxCompletionTokens != nil {
		mt = c.MaxCompletionTokens
	}
	if mt != nil {
		if *mt < 1 {
			return badRequest("invalid_max_tokens", "max_tokens must be at least 1, got %d", *mt)
		}
		r.maxTokens = *mt
	}
	return nil
}

// parseRequest decodes the body of a chat or completion request.
func parseRequest(kind reqKind, body []byte) (*genRequest, *apiError) {
	var r genRequest
	r.kind = kind
	switch kind {
	case kindChat:
		var in struct {
			commonFields
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, badRequest("invalid_json", "could not parse the JSON body of the request: %v", err)
		}
		if e := in.fill(&r); e != nil {
			return nil, e
		}
		if len(in.Messages) == 0 {
			return nil, badRequest("missing_messages", "messages must hold at least one message")
		}
		msgs := make([]Message, len(in.Messages))
		for i, m := range in.Messages {
			if m.Role == "" {
				return nil, badRequest("invalid_message", "messages[%d].role is required", i)
			}
			text, err := contentText(m.Content)
			if err != nil {
				return nil, badRequest("invalid_message", "messages[%d].content: %v", i, err)
			}
			msgs[i] = Message{Role: m.Role, Content: text}
		}
		r.prompt = RenderChat(msgs)
	case kindCompletion:
		var in struct {
			commonFields
			Prompt json.RawMessage `json:"prompt"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, badRequest("invalid_json", "could not parse the JSON body of the request: %v", err)
		}
		if e := in.fill(&r); e != nil {
			return nil, e
		}
		p, err := promptText(in.Prompt)
		if err != nil {
			return nil, badRequest("invalid_prompt", "prompt: %v", err)
		}
		r.prompt = p
	}
	return &r, nil
}

// contentText flattens message content: a string, null, or an array of parts whose "text"
// parts are concatenated (other part types, such as images, are ignored).
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// promptText reads a completion prompt: a string, an array of one string, an array of token
// ids, or an array of one array of token ids. A token id becomes 4 bytes (little-endian
// uint32) so that n ids count as n tokens.
func promptText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", errors.New("is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		if len(ss) != 1 {
			return "", fmt.Errorf("the simulator serves one prompt per request, got %d", len(ss))
		}
		return ss[0], nil
	}
	var ids []uint32
	if json.Unmarshal(raw, &ids) == nil {
		return idsText(ids), nil
	}
	var idss [][]uint32
	if json.Unmarshal(raw, &idss) == nil {
		if len(idss) != 1 {
			return "", fmt.Errorf("the simulator serves one prompt per request, got %d", len(idss))
		}
		return idsText(idss[0]), nil
	}
	return "", errors.New("must be a string, an array of strings, or an array of token ids")
}

func idsText(ids []uint32) string {
	b := make([]byte, 0, len(ids)*BytesPerToken)
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return string(b)
}

// Response shapes.

type usage struct {
	PromptTokens        int            `json:"prompt_tokens"`
	CompletionTokens    int            `json:"completion_tokens"`
	TotalTokens         int            `json:"total_tokens"`
	PromptTokensDetails *promptDetails `json:"prompt_tokens_details,omitempty"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type chatMessageOut struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type choice struct {
	Index        int             `json:"index"`
	Message      *chatMessageOut `json:"message,omitempty"` // chat.completion
	Delta        *delta          `json:"delta,omitempty"`   // chat.completion.chunk
	Text         *string         `json:"text,omitempty"`    // text_completion
	Logprobs     any             `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

// completionObject is every response and chunk shape: chat.completion,
// chat.completion.chunk and text_completion.
type completionObject struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	// Usage is nil (omitted), a nil *usage (null, in chunks of include_usage streams) or set.
	Usage any `json:"usage,omitempty"`
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Message: message, Type: typ, Code: code}})
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	writeError(w, e.status, e.typ, e.code, e.message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// strictUnmarshal decodes one JSON value and rejects unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
