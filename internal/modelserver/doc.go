// Package modelserver scrapes model servers' engine metrics off the
// request path. A Manager keeps one collector goroutine per endpoint of
// every VirtualNode port whose modelServer names a scraped engine (vllm,
// sglang, tgi; openai is never scraped). Collectors are keyed by endpoint:
// they survive config reloads, and start and stop as endpoints join and
// leave their Set.
//
// Each scrape (GET metricsPath on metricsPort, default /metrics on the
// endpoint's port, every scrapeInterval, default 100ms, with a timeout of
// three intervals and at least 250ms) is parsed by Parse and published on
// the endpoint (discovery.State.SetServerStats) together with aimesh's own
// in-flight counters at that moment, so pickers can add what aimesh sent
// since. A failed scrape keeps the last metrics, which go stale and make
// the endpoint count as saturated after three intervals
// (picker.StaleIntervals).
//
// Metric names: vLLM vllm:num_requests_waiting, vllm:num_requests_running,
// vllm:kv_cache_usage_perc (or the older vllm:gpu_cache_usage_perc) and
// vllm:cache_config_info's num_gpu_blocks × block_size for the cache size;
// SGLang sglang:num_queue_reqs, sglang:num_running_reqs,
// sglang:token_usage, sglang:max_total_num_tokens; TGI tgi_queue_size,
// tgi_batch_current_size.
package modelserver
