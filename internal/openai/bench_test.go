package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
)

// chatBody returns a chat/completions body of about size bytes: a
// conversation whose messages have newlines, quotes and non-ASCII text, and
// the model first or last.
func chatBody(size int, modelLast bool) []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	var msgs []message
	const turn = "Explain the difference between \"prefill\" and \"decode\" in LLM inference.\n" +
		"Use a short list; mention KV-cache reuse — and naïve batching."
	for n := 0; n*len(turn) < size; n++ {
		role := "user"
		if n%2 == 1 {
			role = "assistant"
		}
		msgs = append(msgs, message{Role: role, Content: fmt.Sprintf("%d: %s", n, turn)})
	}
	var b bytes.Buffer
	b.WriteString("{")
	if !modelLast {
		b.WriteString(`"model":"llama-3.1-8b-instruct",`)
	}
	b.WriteString(`"messages":`)
	for {
		enc, _ := json.Marshal(msgs)
		if len(enc)+120 < size || len(msgs) == 1 {
			b.Write(enc)
			break
		}
		msgs = msgs[:len(msgs)-1]
	}
	b.WriteString(`,"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true}`)
	if modelLast {
		b.WriteString(`,"model":"llama-3.1-8b-instruct"`)
	}
	b.WriteString("}")
	return b.Bytes()
}

func BenchmarkInspect(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, last := range []bool{false, true} {
			body := chatBody(size, last)
			where := "first"
			if last {
				where = "last"
			}
			b.Run(fmt.Sprintf("%dKiB/model-%s", size>>10, where), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Inspect(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStdlibUnmarshal is the reference: encoding/json into a struct
// with the three fields.
func BenchmarkStdlibUnmarshal(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := chatBody(size, true)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v struct {
					Model         string `json:"model"`
					Stream        bool   `json:"stream"`
					StreamOptions *struct {
						IncludeUsage bool `json:"include_usage"`
					} `json:"stream_options"`
				}
				if err := json.Unmarshal(body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteError(b *testing.B) {
	b.ReportAllocs()
	w := httptest.NewRecorder()
	for b.Loop() {
		w.Body.Reset()
		clear(w.Header())
		WriteError(w, 404, TypeInvalidRequest, CodeModelNotFound, `model "llama-3.1-70b" is not served by any route`)
	}
}
