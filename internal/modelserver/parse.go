package modelserver

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

// Sample is what one scrape tells about an engine.
type Sample struct {
	// Waiting and Running requests, summed over every series (one per
	// served model).
	Waiting, Running float64
	// KVUsage in [0,1], the largest over the series; -1 when the engine
	// does not report it.
	KVUsage float64
	// KVCapacityTokens is the KV cache size in tokens; 0 when unknown.
	KVCapacityTokens int64
}

// names are an engine's metric names.
type names struct {
	waiting, running string
	kv               []string // first found wins
	// capacity: an info metric whose labels give blocks and block size
	// (vLLM), or a gauge in tokens (SGLang).
	capInfo, capBlocks, capBlockSize string
	capTokens                        string
}

var engines = map[v1.ModelServerEngine]names{
	v1.EngineVLLM: {
		waiting: "vllm:num_requests_waiting", running: "vllm:num_requests_running",
		kv:      []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
		capInfo: "vllm:cache_config_info", capBlocks: "num_gpu_blocks", capBlockSize: "block_size",
	},
	v1.EngineSGLang: {
		waiting: "sglang:num_queue_reqs", running: "sglang:num_running_reqs",
		kv: []string{"sglang:token_usage"}, capTokens: "sglang:max_total_num_tokens",
	},
	v1.EngineTGI: {waiting: "tgi_queue_size", running: "tgi_batch_current_size"},
}

// ErrNoMetrics means a scrape had none of the engine's queue metrics: the
// wrong engine or path.
var ErrNoMetrics = errors.New("no queue metrics found")

// Parse reads an engine's load from a Prometheus text exposition. Lines it
// does not need are skipped without being parsed further; a malformed line
// is skipped too, so one bad series does not hide the others.
func Parse(engine v1.ModelServerEngine, body []byte) (Sample, error) {
	n, ok := engines[engine]
	if !ok {
		return Sample{}, fmt.Errorf("engine %q has no metrics", engine)
	}
	s := Sample{KVUsage: -1}
	var (
		found  bool
		kvRank = len(n.kv) // rank of the kv name used so far
		blocks float64
		bsize  float64
	)
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, labels, value, ok := splitSample(line)
		if !ok {
			continue
		}
		switch {
		case string(name) == n.waiting:
			s.Waiting += value
			found = true
		case string(name) == n.running:
			s.Running += value
			found = true
		case n.capInfo != "" && string(name) == n.capInfo:
			blocks, _ = strconv.ParseFloat(label(labels, n.capBlocks), 64)
			bsize, _ = strconv.ParseFloat(label(labels, n.capBlockSize), 64)
		case n.capTokens != "" && string(name) == n.capTokens:
			s.KVCapacityTokens = int64(value)
		default:
			for r, kv := range n.kv {
				if string(name) != kv || r > kvRank {
					continue
				}
				if r < kvRank {
					s.KVUsage, kvRank = value, r
				} else {
					s.KVUsage = max(s.KVUsage, value)
				}
			}
		}
	}
	if !found {
		return Sample{}, ErrNoMetrics
	}
	if blocks > 0 && bsize > 0 {
		s.KVCapacityTokens = int64(blocks * bsize)
	}
	if kvRank < len(n.kv) {
		s.KVUsage = min(max(s.KVUsage, 0), 1)
	}
	s.Waiting, s.Running = max(s.Waiting, 0), max(s.Running, 0)
	return s, nil
}

// splitSample splits `name{labels} value [timestamp]`. labels is the text
// between the braces. Values that are not finite numbers are refused.
func splitSample(line []byte) (name, labels []byte, value float64, ok bool) {
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	nameB := line[:i]
	if i < len(line) && line[i] == '{' {
		end := labelsEnd(line, i+1)
		if end < 0 {
			return nil, nil, 0, false
		}
		labels = line[i+1 : end]
		i = end + 1
	}
	rest := bytes.TrimLeft(line[i:], " \t")
	if j := bytes.IndexAny(rest, " \t"); j >= 0 {
		rest = rest[:j]
	}
	v, err := strconv.ParseFloat(string(rest), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || len(nameB) == 0 {
		return nil, nil, 0, false
	}
	return nameB, labels, v, true
}

// labelsEnd returns the index of the '}' closing labels that start at i,
// honouring quoted values with escapes; -1 when there is none.
func labelsEnd(line []byte, i int) int {
	inQuote := false
	for ; i < len(line); i++ {
		switch c := line[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i
		}
	}
	return -1
}

// label returns a label's value (unescaped only for the common case of no
// escapes), or "".
func label(labels []byte, key string) string {
	for len(labels) > 0 {
		eq := bytes.IndexByte(labels, '=')
		if eq < 0 || eq+1 >= len(labels) || labels[eq+1] != '"' {
			return ""
		}
		k := string(bytes.TrimSpace(bytes.TrimLeft(labels[:eq], ",")))
		j := eq + 2
		for j < len(labels) && labels[j] != '"' {
			if labels[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(labels) {
			return ""
		}
		if k == key {
			return string(labels[eq+2 : j])
		}
		labels = labels[j+1:]
	}
	return ""
}
