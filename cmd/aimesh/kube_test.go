package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunKubernetesArguments covers `aimesh run --kubernetes` refusing
// what it cannot run with, before it touches an API server.
func TestRunKubernetesArguments(t *testing.T) {
	badKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(badKubeconfig, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"files and kubernetes", []string{"--kubernetes", "-f", "mesh.yaml"}, nil, 2, "--kubernetes reads the mesh from the API server: drop -f mesh.yaml"},
		{"bad kubeconfig", []string{"--kubernetes", "--kubeconfig", badKubeconfig}, nil, 1, "--kubeconfig " + badKubeconfig},
		{"missing kubeconfig", []string{"--kubernetes", "--kubeconfig", filepath.Join(t.TempDir(), "nope")}, nil, 1, "--kubeconfig"},
		{"bad log level", []string{"--kubernetes", "--log-level", "loud"}, nil, 2, "--log-level"},
		{"no lease namespace", []string{"--kubernetes", "--kubeconfig", writeKubeconfig(t)}, map[string]string{"POD_NAMESPACE": ""}, 2,
			"--leader-elect needs the Lease namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := cmdRun(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}

// writeKubeconfig writes a syntactically valid kubeconfig for a server
// nobody listens on.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeaseName(t *testing.T) {
	long := strings.Repeat("m", 60)
	for mesh, want := range map[string]string{
		"":        "aimesh-status",
		"ai-mesh": "aimesh-status-ai-mesh",
		long:      ("aimesh-status-" + long)[:63],
		// Cut right after a dash: the dash goes, like Helm's trimSuffix.
		strings.Repeat("m", 48) + "-x": "aimesh-status-" + strings.Repeat("m", 48),
	} {
		if got := leaseName(mesh); got != want {
			t.Errorf("leaseName(%q) = %q, want %q", mesh, got, want)
		}
	}
}

func TestLeaseNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "from-env")
	if got := (&kubeFlags{namespace: "flag"}).leaseNamespace(); got != "flag" {
		t.Errorf("--namespace: got %q", got)
	}
	if got := (&kubeFlags{}).leaseNamespace(); got != "from-env" {
		t.Errorf("POD_NAMESPACE: got %q", got)
	}
}
