package kubeenv

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestToolsScriptPinsSameKubeVersion(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "hack", "tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KUBE_VERSION=(\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("hack/tools.sh: no KUBE_VERSION= line")
	}
	if got := string(m[1]); got != KubeVersion {
		t.Fatalf("hack/tools.sh builds %s but kubeenv.KubeVersion is %s", got, KubeVersion)
	}
}

func TestMissingAssetsNamesEachFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := MissingAssets(dir)
	want := []string{filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "kubectl")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("MissingAssets = %v, want %v", got, want)
	}
}

func TestAssetsDirFollowsEnv(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	t.Setenv("AIMESH_CACHE", "/cache")
	if got, want := AssetsDir(), "/cache/kube/"+KubeVersion; got != want {
		t.Errorf("AssetsDir with AIMESH_CACHE = %s, want %s", got, want)
	}
	t.Setenv("KUBEBUILDER_ASSETS", "/assets")
	if got := AssetsDir(); got != "/assets" {
		t.Errorf("AssetsDir with KUBEBUILDER_ASSETS = %s, want /assets", got)
	}
}

func TestReadCRDs(t *testing.T) {
	crds, err := readCRDs("testdata/crds")
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].GetName() != "widgets.kubeenv.aimesh.io" {
		t.Fatalf("readCRDs = %d objects, want the widgets CRD", len(crds))
	}

	empty := t.TempDir()
	if _, err := readCRDs(empty); err == nil || !strings.Contains(err.Error(), "no CustomResourceDefinitions") {
		t.Errorf("empty dir: err = %v, want 'no CustomResourceDefinitions'", err)
	}

	other := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	if err := os.WriteFile(filepath.Join(other, "cm.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCRDs(other); err == nil || !strings.Contains(err.Error(), "not a CustomResourceDefinition") {
		t.Errorf("non-CRD: err = %v, want 'not a CustomResourceDefinition'", err)
	}
}

func TestRemoveStaleEtcdData(t *testing.T) {
	parent := t.TempDir()
	// pid_max is at most 4194304 on Linux, so this pid cannot be alive.
	stale := filepath.Join(parent, etcdDataPrefix+"4194305-123")
	mine := filepath.Join(parent, etcdDataPrefix+strconv.Itoa(os.Getpid())+"-456")
	other := filepath.Join(parent, "unrelated")
	for _, d := range []string{stale, mine, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleEtcdData(parent)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale dir kept (stat err %v)", err)
	}
	for _, d := range []string{mine, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}
