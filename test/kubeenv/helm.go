package kubeenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// HelmInstallCommand installs the helm binary HelmPath looks for.
const HelmInstallCommand = "hack/tools.sh helm"

// HelmPath returns the helm binary hack/tools.sh installs
// (${AIMESH_CACHE:-$HOME/.cache/aimesh}/bin/helm), else helm from PATH. It
// skips t when there is none (fails it when AIMESH_REQUIRE_KUBEENV is set).
func HelmPath(t testing.TB) string {
	t.Helper()
	cache := os.Getenv("AIMESH_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "aimesh")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "bin", "helm")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	skipOrFail(t, "kubeenv: helm not found in %s/bin or PATH; install it with `%s`", cache, HelmInstallCommand)
	return ""
}

// HelmTemplate runs `helm template RELEASE CHART --namespace NS ARGS...`
// (CHART relative to the module root) and returns the rendered manifests.
func HelmTemplate(t testing.TB, release, chart, namespace string, args ...string) []byte {
	t.Helper()
	helm := HelmPath(t)
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, append([]string{"template", release, filepath.Join(root, chart), "--namespace", namespace}, args...)...)
	// No repositories, plugins or caches of the user's: the render is offline.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", chart, err, stderr.String())
	}
	return stdout.Bytes()
}
