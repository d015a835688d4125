package openai

import (
	"errors"
	"unicode/utf8"
)

// ErrModelNotString is wrapped by the error Inspect returns when the body
// is a well-formed JSON object whose "model" is not a string. Clients get
// 400 with code CodeInvalidModel.
var ErrModelNotString = errors.New(`request body field "model" must be a string`)

// Info is what routing and accounting need from an OpenAI-style request
// body.
type Info struct {
	// Model is the top-level "model" string, decoded; "" when absent.
	Model string
	// Stream is true when the top-level "stream" is the literal true. Any
	// other value (false, null, "true", 1) counts as false here and is left
	// for the model server to accept or reject.
	Stream bool
	// IncludeUsage is true when "stream_options" is an object whose
	// "include_usage" is the literal true.
	IncludeUsage bool
	// Prompt is the raw JSON text of the top-level "messages" (chat) or,
	// without messages, "prompt" (completions) value, as sent: a slice of
	// the body, not decoded. Pickers hash it for prefix affinity and
	// estimate its tokens from its length. nil when both are absent.
	Prompt []byte
	// MaxTokens is "max_completion_tokens", else "max_tokens", when it is
	// a non-negative integer literal; 0 otherwise.
	MaxTokens int64
}

// Inspect reads Info from a request body in one pass over its top-level
// object, skipping every other value while checking that the whole body is
// well-formed JSON. It does not allocate except for the returned model
// string (and, when the model contains escapes, the buffer that decodes
// it).
//
// Errors: a body that is not a JSON object, or not well-formed JSON, gives
// an error wrapping ErrBadJSON whose message says what is wrong and where
// ("request body is not valid JSON: unexpected '}' after object key at
// offset 17"); a "model" that is present but not a string gives an error
// wrapping ErrModelNotString. A missing model is not an error.
func Inspect(body []byte) (Info, error) {
	var (
		info     Info
		c        = cursor{b: body}
		model    []byte // raw content of the last "model" string
		modelEsc bool
		modelGot byte // first byte of the last "model" value; 0 if none
		messages []byte
		prompt   []byte
		maxTok   int64 // max_tokens
		maxComp  int64 // max_completion_tokens
		hasComp  bool
	)
	c.ws()
	if c.i >= len(body) {
		return Info{}, c.eof()
	}
	if body[c.i] != '{' {
		return Info{}, notObject(&c)
	}
	c.i++
	for first := true; ; first = false {
		key, esc, done, err := c.nextKey(first)
		if err != nil {
			return Info{}, err
		}
		if done {
			break
		}
		ch := body[c.i]
		switch k := keyOf(key, esc); k {
		case keyModel:
			modelGot = ch
			if ch == '"' {
				start := c.i + 1
				if modelEsc, err = c.scanString(); err != nil {
					return Info{}, err
				}
				model = body[start : c.i-1]
				continue
			}
		case keyStream:
			info.Stream = ch == 't'
		case keyStreamOptions:
			info.IncludeUsage = false
			if ch == '{' {
				c.i++
				if info.IncludeUsage, err = streamOptions(&c); err != nil {
					return Info{}, err
				}
				continue
			}
		case keyMessages, keyPrompt:
			start := c.i
			if err := c.skipValue(1); err != nil {
				return Info{}, err
			}
			if k == keyMessages {
				messages = body[start:c.i]
			} else {
				prompt = body[start:c.i]
			}
			continue
		case keyMaxTokens, keyMaxCompletionTokens:
			start := c.i
			if err := c.skipValue(1); err != nil {
				return Info{}, err
			}
			n := intLiteral(body[start:c.i])
			if k == keyMaxTokens {
				maxTok = n
			} else {
				maxComp, hasComp = n, true
			}
			continue
		}
		if err := c.skipValue(1); err != nil {
			return Info{}, err
		}
	}
	if err := c.end(); err != nil {
		return Info{}, err
	}
	info.Prompt = messages
	if info.Prompt == nil {
		info.Prompt = prompt
	}
	info.MaxTokens = maxTok
	if hasComp {
		info.MaxTokens = maxComp
	}
	switch {
	case modelGot == 0:
	case modelGot != '"':
		return Info{}, &modelTypeError{got: kindOf(modelGot)}
	case modelEsc || !utf8.Valid(model):
		info.Model = string(appendUnquote(make([]byte, 0, len(model)), model))
	default:
		info.Model = string(model)
	}
	return info, nil
}

// streamOptions reads the stream_options object whose '{' c has consumed
// and reports its include_usage.
func streamOptions(c *cursor) (includeUsage bool, err error) {
	for first := true; ; first = false {
		key, esc, done, err := c.nextKey(first)
		if err != nil {
			return false, err
		}
		if done {
			return includeUsage, nil
		}
		if keyOf(key, esc) == keyIncludeUsage {
			includeUsage = c.b[c.i] == 't'
		}
		if err := c.skipValue(2); err != nil {
			return false, err
		}
	}
}

type key uint8

const (
	keyOther key = iota
	keyModel
	keyStream
	keyStreamOptions
	keyIncludeUsage
	keyMessages
	keyPrompt
	keyMaxTokens
	keyMaxCompletionTokens
)

// longestKey is the longest key keyOf names.
const longestKey = len("max_completion_tokens")

// keyOf names the keys Inspect cares about. Keys with escapes are decoded
// into a stack buffer first ("mod\u0065l" is "model").
func keyOf(raw []byte, esc bool) key {
	if esc {
		if len(raw) > 6*longestKey {
			return keyOther
		}
		var buf [6 * longestKey]byte
		raw = appendUnquote(buf[:0], raw)
	}
	switch string(raw) {
	case "model":
		return keyModel
	case "stream":
		return keyStream
	case "stream_options":
		return keyStreamOptions
	case "include_usage":
		return keyIncludeUsage
	case "messages":
		return keyMessages
	case "prompt":
		return keyPrompt
	case "max_tokens":
		return keyMaxTokens
	case "max_completion_tokens":
		return keyMaxCompletionTokens
	}
	return keyOther
}

// intLiteral returns the value of a JSON number made only of digits, or 0
// for anything else (fractions, exponents, negatives, other kinds, values
// over 2^53).
func intLiteral(b []byte) int64 {
	if len(b) == 0 || len(b) > 16 {
		return 0
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

// modelTypeError is a "model" that is not a string.
type modelTypeError struct{ got string }

func (e *modelTypeError) Error() string {
	return ErrModelNotString.Error() + ", got " + e.got
}

func (e *modelTypeError) Unwrap() error { return ErrModelNotString }

// notObject explains why the top-level value at c.i is not an object: it
// is malformed, or it is another kind of value.
func notObject(c *cursor) error {
	ch := c.b[c.i]
	if err := c.skipValue(0); err != nil {
		return err
	}
	if err := c.end(); err != nil {
		return err
	}
	return &notObjectError{got: kindOf(ch)}
}

// kindOf names the JSON kind of a value that starts with ch.
func kindOf(ch byte) string {
	switch ch {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
