package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExpandNames(t *testing.T) {
	tests := []struct {
		spec    string
		count   int
		want    []string
		wantErr string
	}{
		{"llama", 3, []string{"llama", "llama", "llama"}, ""},
		{"llama-{i}", 3, []string{"llama-0", "llama-1", "llama-2"}, ""},
		{"a, b ,c", 3, []string{"a", "b", "c"}, ""},
		{"v{i}-a,v{i}-b", 2, []string{"v0-a", "v1-b"}, ""},
		{"a,b", 3, nil, "2 names for 3 servers"},
		{"a,,b", 3, nil, "name 1 is empty"},
		{"", 1, nil, "empty name"},
		{"x", 0, nil, "count must be at least 1"},
	}
	for _, tt := range tests {
		got, err := ExpandNames(tt.spec, tt.count)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ExpandNames(%q, %d) error %v, want %q", tt.spec, tt.count, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExpandNames(%q, %d) = %q, %v; want %q", tt.spec, tt.count, got, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero value gets defaults but no engine size", func(c *Config) { *c = Config{} }, "MaxNumSeqs"},
		{"max model len derived from a small cache", func(c *Config) { c.KVBlocks, c.BlockSize = 4, 16 }, ""},
		{"max model len larger than the cache", func(c *Config) { c.KVBlocks, c.BlockSize, c.MaxModelLen = 4, 16, 65 }, "do not fit"},
		{"no batch", func(c *Config) { c.MaxNumSeqs = 0 }, "MaxNumSeqs"},
		{"negative itl", func(c *Config) { c.ITLBase = -time.Millisecond }, "ITLBase"},
		{"negative time scale", func(c *Config) { c.TimeScale = -1 }, "TimeScale"},
		{"no output", func(c *Config) { c.DefaultMaxTokens = 0 }, "DefaultMaxTokens"},
		{"error rate above 1", func(c *Config) { c.Faults.ErrorRate = 1.5 }, "error_rate"},
		{"error status 200", func(c *Config) { c.Faults.ErrorStatus = 200 }, "error_status"},
		{"negative slow start", func(c *Config) { c.Faults.SlowStart = -time.Second }, "slow_start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			_, nerr := NewServer(c)
			if tt.wantErr == "" {
				if err != nil || nerr != nil {
					t.Errorf("Validate: %v, NewServer: %v", err, nerr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate: %v, want %q", err, tt.wantErr)
			}
			if nerr == nil {
				t.Error("NewServer accepted an invalid config")
			}
		})
	}
}
