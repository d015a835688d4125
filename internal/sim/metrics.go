package sim

import (
	"bytes"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Histogram buckets as vLLM defines them (vllm/v1/metrics/loggers.py).
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	latencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// metrics holds the counters and histograms of one server. Gauges are read from the engine
// at scrape time. Times are wall-clock seconds, as a client of the server sees them.
type metrics struct {
	promptTokens  atomic.Int64
	genTokens     atomic.Int64
	prefixQueries atomic.Int64 // prompt tokens looked up in the prefix cache
	prefixHits    atomic.Int64 // of those, tokens found cached

	mu        sync.Mutex
	ttft      histogram
	itl       histogram
	e2e       histogram
	queueTime histogram
	finished  map[string]int64 // by finished_reason
}

func newMetrics() *metrics {
	return &metrics{
		ttft:      newHistogram(ttftBuckets),
		itl:       newHistogram(itlBuckets),
		e2e:       newHistogram(latencyBuckets),
		queueTime: newHistogram(latencyBuckets),
		finished:  map[string]int64{"stop": 0, "length": 0, "abort": 0},
	}
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	if i := sort.SearchFloat64s(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}

func (m *metrics) observeFirstToken(ttft, queue float64) {
	m.mu.Lock()
	m.ttft.observe(ttft)
	m.queueTime.observe(queue)
	m.mu.Unlock()
}

func (m *metrics) observeITL(v float64) {
	m.mu.Lock()
	m.itl.observe(v)
	m.mu.Unlock()
}

func (m *metrics) observeFinish(reason string, e2e float64) {
	m.mu.Lock()
	m.finished[reason]++
	m.e2e.observe(e2e)
	m.mu.Unlock()
}

// cacheInfo is the label set of vllm:cache_config_info.
type cacheInfo struct {
	blockSize, numGPUBlocks int
}

// exposition writes the Prometheus text format (version 0.0.4).
type exposition struct {
	buf    bytes.Buffer
	labels string // `model_name="..."`
}

func (x *exposition) header(name, typ, help string) {
	x.buf.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

func (x *exposition) sample(name, extraLabels string, v float64) {
	x.buf.WriteString(name)
	x.buf.WriteByte('{')
	x.buf.WriteString(x.labels)
	if extraLabels != "" {
		x.buf.WriteByte(',')
		x.buf.WriteString(extraLabels)
	}
	x.buf.WriteString("} ")
	x.buf.WriteString(formatFloat(v))
	x.buf.WriteByte('\n')
}

func (x *exposition) single(name, typ, help string, v float64) {
	x.header(name, typ, help)
	x.sample(name, "", v)
}

func (x *exposition) histogram(name, help string, h *histogram) {
	x.header(name, "histogram", help)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		x.sample(name+"_bucket", `le="`+formatFloat(b)+`"`, float64(cum))
	}
	x.sample(name+"_bucket", `le="+Inf"`, float64(h.count))
	x.sample(name+"_sum", "", h.sum)
	x.sample(name+"_count", "", float64(h.count))
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// labelValue escapes a label value for the text format.
func labelValue(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// render writes every metric of the server in vLLM's names.
func (m *metrics) render(model string, st engineStats, ci cacheInfo, legacy bool) []byte {
	x := &exposition{labels: "model_name=" + labelValue(model)}
	x.single("vllm:num_requests_running", "gauge",
		"Number of requests in model execution batches.", float64(st.running))
	x.single("vllm:num_requests_waiting", "gauge",
		"Number of requests waiting to be processed.", float64(st.waiting))
	x.single("vllm:kv_cache_usage_perc", "gauge",
		"KV-cache usage. 1 means 100 percent usage.", st.usage)
	if legacy {
		x.single("vllm:gpu_cache_usage_perc", "gauge",
			"GPU KV-cache usage. 1 means 100 percent usage.", st.usage)
	}
	x.single("vllm:prefix_cache_queries_total", "counter",
		"Prefix cache queries, in terms of number of queried tokens.", float64(m.prefixQueries.Load()))
	x.single("vllm:prefix_cache_hits_total", "counter",
		"Prefix cache hits, in terms of number of cached tokens.", float64(m.prefixHits.Load()))
	x.single("vllm:prompt_tokens_total", "counter",
		"Number of prefill tokens processed.", float64(m.promptTokens.Load()))
	x.single("vllm:generation_tokens_total", "counter",
		"Number of generation tokens processed.", float64(m.genTokens.Load()))

	m.mu.Lock()
	x.header("vllm:request_success_total", "counter", "Count of successfully processed requests.")
	for _, reason := range []string{"abort", "length", "stop"} {
		x.sample("vllm:request_success_total", "finished_reason="+labelValue(reason), float64(m.finished[reason]))
	}
	x.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", &m.ttft)
	x.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", &m.itl)
	x.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", &m.e2e)
	x.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", &m.queueTime)
	m.mu.Unlock()

	x.header("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig")
	x.sample("vllm:cache_config_info", strings.Join([]string{
		"block_size=" + labelValue(strconv.Itoa(ci.blockSize)),
		`cache_dtype="auto"`,
		`enable_prefix_caching="True"`,
		"num_cpu_blocks=" + labelValue("0"),
		"num_gpu_blocks=" + labelValue(strconv.Itoa(ci.numGPUBlocks)),
	}, ","), 1)
	return x.buf.Bytes()
}

func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	body := s.met.render(s.cfg.Model, s.eng.stats(),
		cacheInfo{blockSize: s.cfg.BlockSize, numGPUBlocks: s.cfg.KVBlocks}, s.cfg.LegacyMetrics)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(body)
}
