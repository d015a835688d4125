package modelserver

import (
	"errors"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		engine v1.ModelServerEngine
		body   string
		want   Sample
		err    error
	}{
		{"vllm current names", v1.EngineVLLM, `# HELP vllm:num_requests_running Number of requests.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 7
vllm:num_requests_waiting{model_name="m"} 3
vllm:kv_cache_usage_perc{model_name="m"} 0.42
vllm:cache_config_info{block_size="16",cache_dtype="auto",num_gpu_blocks="2048"} 1
`, Sample{Waiting: 3, Running: 7, KVUsage: 0.42, KVCapacityTokens: 32768}, nil},
		{"vllm legacy name only", v1.EngineVLLM, `vllm:num_requests_running 1
vllm:num_requests_waiting 0
vllm:gpu_cache_usage_perc{model_name="m"} 0.5
`, Sample{Running: 1, KVUsage: 0.5}, nil},
		{"vllm both names: the current one wins", v1.EngineVLLM, `vllm:gpu_cache_usage_perc 0.9
vllm:num_requests_waiting 0
vllm:kv_cache_usage_perc 0.2
vllm:gpu_cache_usage_perc 0.8
`, Sample{KVUsage: 0.2}, nil},
		{"several models: queues add up, KV is the max", v1.EngineVLLM, `vllm:num_requests_waiting{model_name="a"} 2
vllm:num_requests_waiting{model_name="b"} 5
vllm:num_requests_running{model_name="a"} 1
vllm:kv_cache_usage_perc{model_name="a"} 0.1
vllm:kv_cache_usage_perc{model_name="b"} 0.6
`, Sample{Waiting: 7, Running: 1, KVUsage: 0.6}, nil},
		{"labels with escaped quotes and braces, timestamp", v1.EngineVLLM, `vllm:num_requests_waiting{model_name="a \"}\" b",x="y"} 4 1700000000000
`, Sample{Waiting: 4, KVUsage: -1}, nil},
		{"malformed and non-finite lines are skipped", v1.EngineVLLM, `vllm:num_requests_waiting{model_name="a" 9
vllm:num_requests_waiting NaN
vllm:num_requests_waiting +Inf
vllm:num_requests_waiting abc
vllm:num_requests_waiting 2
`, Sample{Waiting: 2, KVUsage: -1}, nil},
		{"KV over 1 is capped", v1.EngineVLLM, "vllm:num_requests_running 1\nvllm:kv_cache_usage_perc 1.2\n",
			Sample{Running: 1, KVUsage: 1}, nil},
		{"no trailing newline", v1.EngineVLLM, "vllm:num_requests_waiting 6", Sample{Waiting: 6, KVUsage: -1}, nil},
		{"sglang", v1.EngineSGLang, `sglang:num_queue_reqs{model_name="m"} 4
sglang:num_running_reqs{model_name="m"} 12
sglang:token_usage{model_name="m"} 0.33
sglang:max_total_num_tokens{model_name="m"} 500000
`, Sample{Waiting: 4, Running: 12, KVUsage: 0.33, KVCapacityTokens: 500000}, nil},
		{"tgi", v1.EngineTGI, "tgi_queue_size 3\ntgi_batch_current_size 8\n", Sample{Waiting: 3, Running: 8, KVUsage: -1}, nil},
		{"wrong engine's page", v1.EngineVLLM, "tgi_queue_size 3\n", Sample{}, ErrNoMetrics},
		{"empty page", v1.EngineVLLM, "", Sample{}, ErrNoMetrics},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.engine, []byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := Parse(v1.EngineOpenAI, nil); err == nil {
		t.Fatal("openai has no metrics to parse")
	}
}

func TestLabel(t *testing.T) {
	labels := []byte(`block_size="16", cache_dtype="a\"b",num_gpu_blocks="2048"`)
	for k, want := range map[string]string{"block_size": "16", "num_gpu_blocks": "2048", "missing": ""} {
		if got := label(labels, k); got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("vllm:num_requests_waiting{model_name=\"m\"} 3\nvllm:kv_cache_usage_perc 0.5\n"))
	f.Add([]byte(`vllm:cache_config_info{block_size="16",num_gpu_blocks="2048"} 1`))
	f.Add([]byte("vllm:num_requests_waiting{a=\"\\\"}\"} 1 2\n#x\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(v1.EngineVLLM, body)
		if err != nil {
			return
		}
		if s.KVUsage != -1 && (s.KVUsage < 0 || s.KVUsage > 1) {
			t.Fatalf("KVUsage %v out of range", s.KVUsage)
		}
		if s.Waiting < 0 || s.Running < 0 {
			t.Fatalf("negative queue %+v", s)
		}
	})
}
