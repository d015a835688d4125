package kubeenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ModuleRoot returns the directory of the go.mod that declares this module,
// found by walking up from the working directory (a test's package dir).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/aimesh/aimesh\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod for github.com/aimesh/aimesh above the working directory")
		}
		dir = parent
	}
}

// InstallCRDs creates (or updates) every CustomResourceDefinition in the
// YAML/JSON files of dir and waits until each is established and listed by
// discovery. A relative dir is taken from ModuleRoot.
func (e *Env) InstallCRDs(ctx context.Context, dir string) error {
	if !filepath.IsAbs(dir) {
		root, err := ModuleRoot()
		if err != nil {
			return fmt.Errorf("install crds: %w", err)
		}
		dir = filepath.Join(root, dir)
	}
	crds, err := readCRDs(dir)
	if err != nil {
		return fmt.Errorf("install crds: %w", err)
	}
	dyn, err := dynamic.NewForConfig(e.cfg)
	if err != nil {
		return fmt.Errorf("install crds: %w", err)
	}
	api := dyn.Resource(crdGVR)
	for _, crd := range crds {
		if err := applyCRD(ctx, api, crd); err != nil {
			return fmt.Errorf("install crds from %s: %w", dir, err)
		}
	}
	disc, err := discovery.NewDiscoveryClientForConfig(e.cfg)
	if err != nil {
		return fmt.Errorf("install crds: %w", err)
	}
	for _, crd := range crds {
		if err := waitCRD(ctx, api, disc, crd); err != nil {
			return fmt.Errorf("install crds from %s: %w", dir, err)
		}
	}
	return nil
}

// readCRDs decodes every document in dir's *.yaml, *.yml and *.json files.
func readCRDs(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read crd dir: %w", err)
	}
	var crds []*unstructured.Unstructured
	for _, ent := range entries {
		ext := strings.ToLower(filepath.Ext(ent.Name()))
		if ent.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, ext) {
			continue
		}
		path := filepath.Join(dir, ent.Name())
		docs, err := decodeFile(path)
		if err != nil {
			return nil, err
		}
		for _, u := range docs {
			if u.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: %s %q is not a CustomResourceDefinition", path, u.GetKind(), u.GetName())
			}
			crds = append(crds, u)
		}
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinitions in %s (run `make generate`?)", dir)
	}
	return crds, nil
}

func decodeFile(path string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open crd file: %w", err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(obj) == 0 { // an empty document between separators
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

func applyCRD(ctx context.Context, api dynamic.NamespaceableResourceInterface, crd *unstructured.Unstructured) error {
	_, err := api.Create(ctx, crd, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create crd %s: %w", crd.GetName(), err)
		}
		return nil
	}
	cur, err := api.Get(ctx, crd.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get crd %s: %w", crd.GetName(), err)
	}
	upd := crd.DeepCopy()
	upd.SetResourceVersion(cur.GetResourceVersion())
	if _, err := api.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update crd %s: %w", crd.GetName(), err)
	}
	return nil
}

// waitCRD waits for the Established condition and for discovery to list
// the resource in every served version, as clients with a REST mapper need.
func waitCRD(ctx context.Context, api dynamic.NamespaceableResourceInterface, disc discovery.DiscoveryInterface, crd *unstructured.Unstructured) error {
	name := crd.GetName()
	err := poll(ctx, "crd "+name+" established", 100*time.Millisecond, func() (bool, error) {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("crd %s not established yet", name)
	})
	if err != nil {
		return err
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		gv := group + "/" + fmt.Sprint(m["name"])
		err := poll(ctx, "discovery of "+plural+"."+gv, 100*time.Millisecond, func() (bool, error) {
			list, err := disc.ServerResourcesForGroupVersion(gv)
			if err != nil {
				return false, err
			}
			for _, r := range list.APIResources {
				if r.Name == plural {
					return true, nil
				}
			}
			return false, fmt.Errorf("%s not listed in %s", plural, gv)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
