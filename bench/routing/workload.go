package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// workload is the traffic shape: many tenants, each with a long shared
// context (a system prompt with its documents) and short questions.
type workload struct {
	tenants        int
	contextTokens  int // per tenant
	questionTokens int
	outputTokens   int
	seed           uint64
}

// arrival is one request of a schedule.
type arrival struct {
	at     time.Duration // simulated time from the start of the run
	tenant int
	body   []byte
}

// contexts returns each tenant's context text: contextTokens tokens of
// 4 bytes (the simulator's tokenizer), distinct from the first block on.
func (w workload) contexts() []string {
	r := rand.New(rand.NewPCG(w.seed, 0xc0ffee))
	words := []string{"data", "node", "mesh", "gpus", "cache", "model", "token", "query", "shard", "route"}
	out := make([]string, w.tenants)
	for t := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "You are the assistant of tenant %03d. Answer from these documents. ", t)
		for b.Len() < w.contextTokens*4 {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		out[t] = b.String()[:w.contextTokens*4]
	}
	return out
}

// schedule draws Poisson arrivals at rate requests per simulated second
// for a simulated duration d, each from a uniformly drawn tenant with a
// fresh question. The same seed, rate and duration give the same
// schedule, so every policy sees identical traffic.
func (w workload) schedule(ctxs []string, rate float64, d time.Duration) []arrival {
	r := rand.New(rand.NewPCG(w.seed, math.Float64bits(rate)))
	var out []arrival
	at := time.Duration(0)
	for i := 0; ; i++ {
		at += time.Duration(r.ExpFloat64() / rate * float64(time.Second))
		if at >= d {
			return out
		}
		t := r.IntN(w.tenants)
		q := fmt.Sprintf("Question %d of the run: what does section %d say about item %d?", i, r.IntN(1000), r.IntN(1000))
		for len(q) < w.questionTokens*4 {
			q += " Please be precise."
		}
		out = append(out, arrival{at: at, tenant: t, body: chatBody(ctxs[t], q[:w.questionTokens*4], w.outputTokens)})
	}
}

func chatBody(system, question string, maxTokens int) []byte {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	b, err := json.Marshal(struct {
		Model         string         `json:"model"`
		Messages      []msg          `json:"messages"`
		MaxTokens     int            `json:"max_tokens"`
		Stream        bool           `json:"stream"`
		StreamOptions map[string]any `json:"stream_options"`
	}{
		Model:         "sim-model",
		Messages:      []msg{{"system", system}, {"user", question}},
		MaxTokens:     maxTokens,
		Stream:        true,
		StreamOptions: map[string]any{"include_usage": true},
	})
	if err != nil {
		panic(err) // plain strings and ints always encode
	}
	return b
}
