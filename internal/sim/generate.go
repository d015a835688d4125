package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// job is one admitted-to-be request: what it asks for and what the faults decided.
type job struct {
	req          *genRequest
	promptTokens int
	outTokens    int
	finishReason string // when all outTokens are generated
	seq          *seq
	arrival      time.Time
	plan         faultPlan
}

// newJob sizes a request against the model's context length.
func (s *Server) newJob(req *genRequest) (*job, *apiError) {
	p := promptTokens(req.prompt)
	maxLen := s.cfg.MaxModelLen
	out, reason := req.maxTokens, "length"
	if out == 0 {
		out, reason = s.cfg.DefaultMaxTokens, "stop"
		if p < maxLen && p+out > maxLen {
			out, reason = maxLen-p, "length"
		}
	}
	if p+out > maxLen {
		return nil, badRequest("context_length_exceeded",
			"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d in the completion). Please reduce the length of the prompt or completion.",
			maxLen, p+out, p, out)
	}
	hashes := BlockHashes(req.prompt, s.cfg.BlockSize)
	return &job{
		req:          req,
		promptTokens: p,
		outTokens:    out,
		finishReason: reason,
		seq:          s.eng.newSeq(p, hashes, out),
	}, nil
}

// itl is the wall-clock inter-token latency now: ITLBase + ITLPerSeq × running, scaled.
func (s *Server) itl() time.Duration {
	return s.cfg.scale(s.cfg.ITLBase + time.Duration(s.eng.running.Load())*s.cfg.ITLPerSeq)
}

// prefill is the wall-clock prefill time of a prompt with uncached tokens not in the cache.
func (s *Server) prefill(uncached int) time.Duration {
	return s.cfg.scale(s.cfg.PrefillOverhead + time.Duration(uncached)*s.cfg.PrefillPerToken)
}

// generate runs one request through the engine: wait for a batch slot and KV blocks, prefill,
// then one token per inter-token latency, streamed or collected.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, j *job) {
	ctx := r.Context()
	k := newSink(w, s, j)
	if j.req.stream {
		k.startStream()
	}
	if err := s.eng.acquire(ctx, j.seq); err != nil {
		s.finish(j, "abort", 0)
		return
	}
	defer s.eng.release(j.seq)

	p := newPacer(ctx)
	defer p.stop()
	uncached := j.promptTokens - j.seq.cachedTokens
	next := j.seq.admittedAt.Add(s.prefill(uncached) + j.plan.slowStart)
	var last time.Time
	for i := range j.outTokens {
		if i > 0 {
			// Relative to the previous token, like an engine step: a stall delays every later
			// token (no catching up).
			next = last.Add(s.itl())
		}
		if !p.until(next) {
			s.finish(j, "abort", i)
			return
		}
		now := time.Now()
		if i == 0 {
			s.met.promptTokens.Add(int64(j.promptTokens))
			s.met.observeFirstToken(now.Sub(j.arrival).Seconds(), j.seq.admittedAt.Sub(j.arrival).Seconds())
		} else {
			s.met.observeITL(now.Sub(last).Seconds())
		}
		last = now
		s.met.genTokens.Add(1)
		if err := k.token(i); err != nil {
			s.finish(j, "abort", i+1)
			return
		}
	}
	if err := k.done(); err != nil {
		s.finish(j, "abort", j.outTokens)
		return
	}
	s.finish(j, j.finishReason, j.outTokens)
}

// finish records the end of a request.
func (s *Server) finish(j *job, reason string, generated int) {
	s.met.observeFinish(reason, time.Since(j.arrival).Seconds())
	s.log.Debug("request finished", "reason", reason, "prompt_tokens", j.promptTokens,
		"cached_tokens", j.seq.cachedTokens, "generated", generated, "elapsed", time.Since(j.arrival))
}

// pacer sleeps until deadlines unless ctx ends first.
type pacer struct {
	ctx context.Context
	t   *time.Timer
}

func newPacer(ctx context.Context) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{ctx: ctx, t: t}
}

func (p *pacer) until(deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return p.ctx.Err() == nil
	}
	p.t.Reset(d)
	select {
	case <-p.t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

func (p *pacer) stop() { p.t.Stop() }

// sink writes a request's output: SSE chunks as tokens come, or one object at the end. It
// also carries out the close-mid-stream fault, counting SSE events (virtual ones for a
// non-streaming request).
type sink struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	s      *Server
	j      *job
	id     string
	events int
	text   strings.Builder // non-streaming output
}

func newSink(w http.ResponseWriter, s *Server, j *job) *sink {
	prefix := "chatcmpl-"
	if j.req.kind == kindCompletion {
		prefix = "cmpl-"
	}
	return &sink{
		w:  w,
		rc: http.NewResponseController(w),
		s:  s,
		j:  j,
		id: fmt.Sprintf("%s%s-%d", prefix, s.cfg.Name, s.ids.Add(1)),
	}
}

// startStream sends the response headers at once, as vLLM does before the first token.
func (k *sink) startStream() {
	h := k.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	k.w.WriteHeader(http.StatusOK)
	_ = k.rc.Flush()
}

func (k *sink) object(choices []choice) *completionObject {
	o := &completionObject{ID: k.id, Created: k.j.arrival.Unix(), Model: k.j.req.model, Choices: choices}
	switch {
	case k.j.req.kind == kindChat && k.j.req.stream:
		o.Object = "chat.completion.chunk"
	case k.j.req.kind == kindChat:
		o.Object = "chat.completion"
	default:
		o.Object = "text_completion"
	}
	if k.j.req.includeUsage {
		o.Usage = (*usage)(nil) // "usage": null until the last chunk
	}
	return o
}

// event writes one SSE event (or counts a virtual one), aborting the connection first when
// the close fault says so.
func (k *sink) event(o *completionObject) error {
	if c := k.j.plan.closeAfter; c >= 0 && k.events >= c {
		if k.j.req.stream {
			_ = k.rc.Flush() // what was written goes out; a non-streaming client gets no headers
		}
		k.s.finish(k.j, "abort", k.events)
		k.s.log.Debug("connection aborted (fault injection)", "after_events", k.events)
		panic(http.ErrAbortHandler) // net/http closes the connection without ending the body
	}
	k.events++
	if !k.j.req.stream {
		return nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode chunk: %w", err)
	}
	buf := make([]byte, 0, len(b)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	if _, err := k.w.Write(buf); err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	return nil
}

// token emits generated token i.
func (k *sink) token(i int) error {
	tok := outputToken(i)
	if k.j.req.kind == kindChat {
		if i == 0 {
			empty := ""
			if err := k.event(k.object([]choice{{Delta: &delta{Role: "assistant", Content: &empty}}})); err != nil {
				return err
			}
		}
		if err := k.event(k.object([]choice{{Delta: &delta{Content: &tok}}})); err != nil {
			return err
		}
	} else if err := k.event(k.object([]choice{{Text: &tok}})); err != nil {
		return err
	}
	if !k.j.req.stream {
		k.text.WriteString(tok)
		return nil
	}
	if err := k.rc.Flush(); err != nil {
		return fmt.Errorf("flush chunk: %w", err)
	}
	return nil
}

func (k *sink) usage() *usage {
	j := k.j
	return &usage{
		PromptTokens:        j.promptTokens,
		CompletionTokens:    j.outTokens,
		TotalTokens:         j.promptTokens + j.outTokens,
		PromptTokensDetails: &promptDetails{CachedTokens: j.seq.cachedTokens},
	}
}

// done ends the response: the finish chunk, the usage chunk if asked for and [DONE], or the
// whole object.
func (k *sink) done() error {
	reason := k.j.finishReason
	if !k.j.req.stream {
		text := k.text.String()
		c := choice{FinishReason: &reason}
		if k.j.req.kind == kindChat {
			c.Message = &chatMessageOut{Role: "assistant", Content: text}
		} else {
			c.Text = &text
		}
		o := k.object([]choice{c})
		o.Usage = k.usage()
		writeJSON(k.w, http.StatusOK, o)
		return nil
	}
	last := choice{FinishReason: &reason}
	if k.j.req.kind == kindChat {
		last.Delta = &delta{}
	} else {
		empty := ""
		last.Text = &empty
	}
	if err := k.event(k.object([]choice{last})); err != nil {
		return err
	}
	if k.j.req.includeUsage {
		o := k.object([]choice{})
		o.Usage = k.usage()
		if err := k.event(o); err != nil {
			return err
		}
	}
	if _, err := k.w.Write([]byte("data: [DONE]\n\n")); err != nil {
		return fmt.Errorf("write done: %w", err)
	}
	if err := k.rc.Flush(); err != nil {
		return fmt.Errorf("flush done: %w", err)
	}
	return nil
}
