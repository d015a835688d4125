package sim

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func clusterConfigs(t *testing.T, n int) []Config {
	t.Helper()
	models, err := ExpandNames("model-{i}", n)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := make([]Config, n)
	for i := range cfgs {
		c := testConfig()
		c.Name = "sim-" + strconv.Itoa(i)
		c.Model = models[i]
		cfgs[i] = c
	}
	return cfgs
}

func TestClusterServersKeepSeparateState(t *testing.T) {
	c, err := StartCluster(t.Context(), "127.0.0.1", 0, clusterConfigs(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	urls := c.URLs()
	if len(urls) != 3 || urls[0] == urls[1] || urls[1] == urls[2] {
		t.Fatalf("URLs %v", urls)
	}
	// Each server answers for its own model and says who it is.
	for i, u := range urls {
		model := "model-" + strconv.Itoa(i)
		resp, body := post(t, u+"/v1/completions", `{"model":"`+model+`","prompt":"`+strings.Repeat("shared prefix ", 10)+`","max_tokens":1}`)
		if resp.StatusCode != 200 || resp.Header.Get(HeaderServer) != "sim-"+strconv.Itoa(i) {
			t.Errorf("server %d: %d %s %s", i, resp.StatusCode, resp.Header.Get(HeaderServer), body)
		}
		other := "model-" + strconv.Itoa((i+1)%3)
		if resp, _ := post(t, u+"/v1/completions", `{"model":"`+other+`","prompt":"x"}`); resp.StatusCode != 404 {
			t.Errorf("server %d served %s: %d", i, other, resp.StatusCode)
		}
	}
	// More traffic to server 0 only: its cache and counters move, the others' do not.
	for range 3 {
		post(t, urls[0]+"/v1/completions", `{"model":"model-0","prompt":"`+strings.Repeat("shared prefix ", 10)+`","max_tokens":1}`)
	}
	st := []Stats{c.Servers[0].Stats(), c.Servers[1].Stats(), c.Servers[2].Stats()}
	if st[0].PrefixHits == 0 || st[1].PrefixHits != 0 || st[2].PrefixHits != 0 {
		t.Errorf("prefix hits %d %d %d, want only server 0's > 0", st[0].PrefixHits, st[1].PrefixHits, st[2].PrefixHits)
	}
	if st[0].PromptTokens != 4*st[1].PromptTokens || st[1].PromptTokens != st[2].PromptTokens {
		t.Errorf("prompt tokens %d %d %d", st[0].PromptTokens, st[1].PromptTokens, st[2].PromptTokens)
	}
	m1 := scrape(t, urls[1])
	if got := metric(t, m1, "vllm:generation_tokens_total", "model-1"); got != 1 {
		t.Errorf("server 1 generation_tokens_total %g, want 1", got)
	}
	// Faults are per server too.
	if err := c.Servers[1].SetFaults(Faults{ErrorRate: 1, ErrorStatus: 503}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, urls[0]+"/v1/completions", `{"model":"model-0","prompt":"x","max_tokens":1}`); resp.StatusCode != 200 {
		t.Errorf("server 0 with server 1's faults: %d", resp.StatusCode)
	}
	if resp, _ := post(t, urls[1]+"/v1/completions", `{"model":"model-1","prompt":"x","max_tokens":1}`); resp.StatusCode != 503 {
		t.Errorf("server 1 with its faults: %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := testClient.Get(urls[0] + "/health"); err == nil {
		t.Error("server 0 still answers after shutdown")
	}
}

func TestClusterConsecutivePorts(t *testing.T) {
	// Find three free consecutive ports; another process may take one meanwhile, so retry.
	for attempt := range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		first := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if first > 65530 {
			continue
		}
		c, err := StartCluster(t.Context(), "127.0.0.1", first, clusterConfigs(t, 3))
		if err != nil {
			t.Logf("attempt %d at port %d: %v", attempt, first, err)
			continue
		}
		defer c.Close()
		for i, u := range c.URLs() {
			pu, err := url.Parse(u)
			if err != nil || pu.Port() != strconv.Itoa(first+i) {
				t.Errorf("server %d at %s, want port %d", i, u, first+i)
			}
		}
		return
	}
	t.Skip("no three consecutive free ports found")
}

func TestClusterFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	// Server 1 would need the taken port: the cluster fails and server 0 is closed again.
	_, err = StartCluster(t.Context(), "127.0.0.1", taken-1, clusterConfigs(t, 2))
	if err == nil {
		t.Fatal("cluster started on a taken port")
	}
	if !strings.Contains(err.Error(), "server 1:") {
		t.Skipf("port %d is busy too: %v", taken-1, err)
	}
	if c, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(taken-1))); err == nil {
		c.Close()
	} else if !strings.Contains(err.Error(), "in use") {
		t.Logf("port %d: %v", taken-1, err)
	} else {
		t.Errorf("server 0 left listening on port %d after the cluster failed", taken-1)
	}
}
