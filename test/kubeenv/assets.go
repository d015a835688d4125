package kubeenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// KubeVersion is the Kubernetes version whose binaries the harness runs;
// hack/tools.sh builds the same one (a test keeps the two in step).
const KubeVersion = "v1.37.2"

// InstallCommand installs the binaries Start needs.
const InstallCommand = "hack/tools.sh kube"

// RequireEnv names the variable that turns missing-prerequisite skips into
// test failures.
const RequireEnv = "AIMESH_REQUIRE_KUBEENV"

// AssetNames are the files Start needs in the assets directory.
var AssetNames = []string{"etcd", "kube-apiserver", "kubectl"}

// AssetsDir returns the directory holding etcd, kube-apiserver and kubectl:
// $KUBEBUILDER_ASSETS when set, else the cache hack/tools.sh installs into.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	cache := os.Getenv("AIMESH_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache", "aimesh")
	}
	return filepath.Join(cache, "kube", KubeVersion)
}

// MissingAssets lists the paths under dir that are absent or not executable.
func MissingAssets(dir string) []string {
	var missing []string
	for _, name := range AssetNames {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	return missing
}

// errMissing describes prerequisites a test lacks.
var errMissing = errors.New("missing test prerequisites")

// skipOrFail skips t, or fails it when RequireEnv is set.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if v := os.Getenv(RequireEnv); v != "" && v != "0" {
		t.Fatalf("%s (%s=%s forbids skipping)", msg, RequireEnv, v)
	}
	t.Skip(msg)
}

// requireAssets skips t unless every binary is in dir.
func requireAssets(t testing.TB, dir string) {
	t.Helper()
	if missing := MissingAssets(dir); len(missing) > 0 {
		skipOrFail(t, "kubeenv: %v: %s; install with `%s` (or point KUBEBUILDER_ASSETS at a directory holding %s)",
			errMissing, strings.Join(missing, ", "), InstallCommand, strings.Join(AssetNames, ", "))
	}
}
