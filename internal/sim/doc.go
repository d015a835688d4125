// Package sim is an OpenAI-compatible model-server simulator, shaped like vLLM, for the
// demo, the gateway's tests and routing benchmarks. It is a real HTTP server with real timing
// (goroutines and timers: a request really takes as long as the model says, scaled by
// Config.TimeScale), not a discrete-event simulation.
//
// # Endpoints
//
//	POST /v1/chat/completions  OpenAI chat; stream=true gives SSE chat.completion.chunk events
//	POST /v1/completions       OpenAI legacy completions (text_completion), streamed or not
//	GET  /v1/models            the served model name and its aliases
//	GET  /health               200, or 503 with the Unhealthy fault
//	GET  /metrics              Prometheus text format with vLLM's metric names
//	GET|POST|PUT|DELETE /sim/faults   read, replace, clear the injected faults (JSON, see Faults)
//	GET  /sim/stats            Stats as JSON
//	POST /reset_prefix_cache   drop unreferenced cached blocks, as vLLM's endpoint does
//
// Every response carries X-Sim-Server: Config.Name (and X-Sim-Version: Config.Version when
// set) so tests can tell which server answered; X-Request-Id is echoed. Errors are
// OpenAI-shaped: {"error":{"message","type","param","code"}}: 400 for bad JSON or fields,
// 404 model_not_found for a model the server does not serve, 400 context_length_exceeded,
// 413 for a body over Config.MaxBodyBytes.
//
// Streams send the response headers at once, then, at the first token, a role chunk and a
// content chunk, one content chunk per further token, a chunk with finish_reason and an empty
// delta, a usage chunk with empty choices if stream_options.include_usage is set, and
// "data: [DONE]". finish_reason is "length" when the client set max_tokens (or
// max_completion_tokens) or the context length cut the output, else "stop". Usage reports
// prompt_tokens_details.cached_tokens: the prompt tokens served from the prefix cache.
//
// # Tokens
//
// A text of n bytes is ceil(n/4) tokens; token i is bytes [4i, 4i+4) (BytesPerToken,
// CountTokens). A prompt has at least one token. Chat messages are first rendered to one
// string by RenderChat ("<|im_start|>{role}\n{content}<|im_end|>\n" per message, then
// "<|im_start|>assistant\n"), so a shared system prompt is a shared prefix. A completion
// prompt may be a string, one string in an array, or token ids (each id stands for 4 bytes).
// Generated text is a Lorem-ipsum text cut in 4-byte tokens, so CountTokens of a response's
// text equals its completion_tokens. The output length is max_completion_tokens, else
// max_tokens, else Config.DefaultMaxTokens (cut to the context length). n must be 1.
//
// # Serving model
//
// Continuous batching as in vLLM: at most MaxNumSeqs requests run; the others wait in one FIFO
// queue. A request runs only when it also gets its KV blocks; the head of the queue that does
// not fit holds back those behind it (vLLM's FCFS). A request that leaves (client gone, ctx
// done) leaves the queue or the batch at once and frees its blocks.
//
//	blocks needed  = ceil((prompt_tokens + max_output_tokens) / BlockSize), taken at admission
//	cached_tokens  = min(hit_blocks × BlockSize, prompt_tokens − 1)
//	prefill        = PrefillOverhead + (prompt_tokens − cached_tokens) × PrefillPerToken (+ SlowStart)
//	TTFT           = queue wait + prefill
//	itl            = ITLBase + ITLPerSeq × running   (running read as each token is scheduled)
//	e2e            = TTFT + (output_tokens − 1) × itl   (each token one itl after the previous one)
//
// and every duration is multiplied by TimeScale. Defaults (DefaultConfig): MaxNumSeqs 32,
// KVBlocks 2048, BlockSize 16, MaxModelLen min(8192, KVBlocks×BlockSize), DefaultMaxTokens
// 32, PrefillOverhead 20ms, PrefillPerToken 100µs, ITLBase 10ms, ITLPerSeq 500µs, TimeScale 1.
//
// Simplifications against vLLM: blocks for the whole output are reserved at admission (vLLM
// allocates them as tokens come and preempts when it runs out), so there is no preemption;
// prefill does not slow the decode of the other running requests; prefill time does not
// depend on the batch.
//
// # Prefix cache
//
// Each full block of a prompt has a chained hash, hash(i) = FNV-1a(hash(i−1), bytes of block i)
// (BlockHashes), registered when the request is admitted. A new request reuses the longest
// run of leading blocks whose hashes are cached. Blocks no request uses stay cached and are
// evicted least recently used first when a new block is needed (a released prompt's tail
// before its head). Hit and query counts are in tokens, as vLLM counts them.
//
// # Metrics
//
// Label model_name = Config.Model on every series. Gauges vllm:num_requests_running,
// vllm:num_requests_waiting, vllm:kv_cache_usage_perc (blocks in use / KVBlocks, 0..1;
// cached-but-unused blocks count as free, as in vLLM; vllm:gpu_cache_usage_perc too with
// Config.LegacyMetrics); counters vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total
// (tokens), vllm:prompt_tokens_total, vllm:generation_tokens_total,
// vllm:request_success_total{finished_reason=stop|length|abort}; histograms (vLLM's buckets,
// wall-clock seconds as the client sees them) vllm:time_to_first_token_seconds,
// vllm:inter_token_latency_seconds, vllm:e2e_request_latency_seconds,
// vllm:request_queue_time_seconds; and vllm:cache_config_info{block_size, num_gpu_blocks,
// ...} 1.
//
// # Faults
//
// Faults (at start in Config.Faults, at run time with Server.SetFaults or POST /sim/faults)
// inject errors (ErrorRate × ErrorStatus, with Retry-After on 429 and 503), hangs (HangRate:
// no answer until the client goes), aborted connections (CloseAfterChunks: the stream breaks
// after N events, without [DONE]), slow starts (SlowStart before the first token, holding a
// batch slot) and a failing /health (Unhealthy). Rates are fractions drawn per request from a
// generator seeded by Config.Seed. For example:
//
//	curl -X POST localhost:8000/sim/faults -d '{"error_rate":0.2,"error_status":429,"retry_after_seconds":2}'
//	curl -X POST localhost:8000/sim/faults -d '{"close_after_chunks":5,"slow_start":"500ms"}'
//	curl -X DELETE localhost:8000/sim/faults
//
// # Go API
//
// NewServer gives an http.Handler; Start listens on an address (port 0 for a free port) and
// StartCluster starts several servers on consecutive ports, each with its own state. Running
// embeds *Server, so SetFaults, Stats and ResetPrefixCache are at hand in tests.
package sim
