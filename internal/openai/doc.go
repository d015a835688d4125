// Package openai understands OpenAI-style API traffic without decoding it
// into maps: it owns request inspection (Inspect reads the few top-level
// fields routing needs, model, stream and stream_options.include_usage, the
// raw prompt (messages or prompt, not decoded) and the requested output
// length for endpoint picking, in one pass that also checks the body is
// well-formed JSON) and the
// OpenAI-shaped error bodies aimesh sends to clients (WriteError,
// AppendError and the Type*/Code* constants).
//
// The scanner behind Inspect accepts exactly what encoding/json accepts
// (RFC 8259 grammar, at most 10000 levels of nesting, invalid UTF-8 inside
// strings tolerated) and decodes strings the way encoding/json does
// (invalid UTF-8 and lone surrogates become U+FFFD). When a key appears
// twice the last occurrence wins, as in encoding/json and Python's json
// module, so aimesh routes on the same model the model server reads.
//
// Usage and SSE parsing for responses will live here too.
package openai
