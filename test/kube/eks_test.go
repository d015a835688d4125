package kube

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aimesh/aimesh/internal/sim"
	"github.com/aimesh/aimesh/test/kubeenv"
)

// TestEKSProgramObjects exercises the Kubernetes half of the Pulumi EKS
// program (deploy/eks) for real: the objects it declares in the cluster
// (namespace, vLLM Deployment, Secret and Service, and the seed's mesh as
// aimesh resources), as its golden file records them, are applied to a
// real API server with the chart's CRDs; a simulated vLLM runs in a test
// host on port 8000 behind the vllm Service's EndpointSlice; and a gateway
// in --kubernetes mode streams a chat completion through ai-gateway.
func TestEKSProgramObjects(t *testing.T) {
	root, err := kubeenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	objects, err := os.ReadFile(filepath.Join(root, "deploy/eks/testdata/kube-objects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := kubeenv.Start(t, kubeenv.WithCRDDir(kubeenv.CRDDir))
	ctx := testContext(t, 3*time.Minute)
	c := newClient(t, env)

	// The VirtualGateway listens on 8080 in the cluster; here on a free port.
	port := freePort(t)
	docs := strings.Split(string(objects), "\n---\n")
	for i, d := range docs {
		if strings.Contains(d, "kind: VirtualGateway") {
			docs[i] = strings.Replace(d, "port: 8080", "port: "+strconv.Itoa(port), 1)
		}
	}
	out := mustKubectl(t, ctx, env, strings.Join(docs, "\n---\n"), "apply", "--server-side", "-f", "-")
	t.Logf("kubectl apply --server-side:\n%s", out)

	// vLLM's stand-in, on the port the Deployment and Service use.
	h := kubeenv.NewTestHost(t, "eks-vllm")
	cfg := sim.DefaultConfig()
	cfg.Name, cfg.Model = "vllm-0", model
	cfg.PrefillOverhead, cfg.PrefillPerToken, cfg.ITLBase, cfg.ITLPerSeq = time.Millisecond, 0, time.Millisecond, 0
	srv, err := sim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := sim.Serve(context.Background(), h.Listen(t, 8000), srv)
	t.Cleanup(func() { _ = r.Close() })
	if err := c.Create(ctx, endpointSlice("ai", "vllm", []backend{{h.Addr.String(), 8000}})); err != nil {
		t.Fatal(err)
	}

	gw := startReplica(t, env, "eks-gateway", "127.0.0.1", port)
	eventually(t, 60*time.Second, "a streamed chat completion through ai-gateway", func() error {
		body := `{"model":"` + model + `","stream":true,"max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.base+"/v1/chat/completions", strings.NewReader(body))
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "data: [DONE]") || resp.Header.Get(sim.HeaderServer) != "vllm-0" {
			return &streamError{resp.StatusCode, string(b)}
		}
		return nil
	})
}

type streamError struct {
	code int
	body string
}

func (e *streamError) Error() string { return "status " + strconv.Itoa(e.code) + ": " + e.body }
