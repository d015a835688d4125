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
		switch keyOf(key, esc) {
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
		}
		if err := c.skipValue(1); err != nil {
			return Info{}, err
		}
	}
	if err := c.end(); err != nil {
		return Info{}, err
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
)

// keyOf names the keys Inspect cares about. Keys with escapes are decoded
// into a stack buffer first ("mod\u0065l" is "model").
func keyOf(raw []byte, esc bool) key {
	if esc {
		if len(raw) > 6*len("stream_options") {
			return keyOther
		}
		var buf [6 * len("stream_options")]byte
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
	}
	return keyOther
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
