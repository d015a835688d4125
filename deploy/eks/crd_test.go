package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// crd is what the checks need of one CRD.
type crd struct {
	scope  string
	schema map[string]any // openAPIV3Schema
}

// crdSchemas reads the chart's CRDs: kind -> the version meshAPIVersion
// names.
func crdSchemas(dir string) (map[string]crd, error) {
	group, version, _ := strings.Cut(meshAPIVersion, "/")
	files, err := filepath.Glob(filepath.Join(dir, "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s/crds (%v)", dir, err)
	}
	out := map[string]crd{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Spec struct {
				Group    string
				Scope    string
				Names    struct{ Kind string }
				Versions []struct {
					Name   string
					Served bool
					Schema struct {
						OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range doc.Spec.Versions {
			if doc.Spec.Group == group && v.Name == version && v.Served {
				out[doc.Spec.Names.Kind] = crd{doc.Spec.Scope, v.Schema.OpenAPIV3Schema}
			}
		}
	}
	return out, nil
}

// conform reports where v does not fit an OpenAPI v3 structural schema:
// unknown fields, wrong types, missing required fields, enums, patterns,
// lengths and ranges. (CEL rules need an API server and are not checked.)
func conform(path string, v any, s map[string]any) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(path+": "+format, args...)) }
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		bad("%v is not one of %v", v, enum)
	}
	if s["x-kubernetes-int-or-string"] == true {
		return errs
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return errs
		}
		props, _ := s["properties"].(map[string]any)
		extra, _ := s["additionalProperties"].(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch ps, ok := props[k].(map[string]any); {
			case ok:
				errs = append(errs, conform(path+"."+k, m[k], ps)...)
			case extra != nil:
				errs = append(errs, conform(path+"."+k, m[k], extra)...)
			case s["x-kubernetes-preserve-unknown-fields"] != true:
				bad("unknown field %q", k)
			}
		}
		for _, r := range list(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				bad("missing required field %q", r)
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return errs
		}
		items, _ := s["items"].(map[string]any)
		for i, x := range l {
			errs = append(errs, conform(fmt.Sprintf("%s[%d]", path, i), x, items)...)
		}
	case "string":
		text, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return errs
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err == nil && !re.MatchString(text) {
				bad("%q does not match %s", text, p)
			}
		}
		if n, ok := s["maxLength"].(int); ok && len(text) > n {
			bad("%q is longer than %d", text, n)
		}
		if n, ok := s["minLength"].(int); ok && len(text) < n {
			bad("%q is shorter than %d", text, n)
		}
	case "integer":
		f, ok := v.(float64) // numbers come back from the engine as float64
		n := int(f)
		if !ok || float64(n) != f {
			bad("want an integer, got %T", v)
			return errs
		}
		if lo, ok := s["minimum"].(int); ok && n < lo {
			bad("%d < minimum %d", n, lo)
		}
		if hi, ok := s["maximum"].(int); ok && n > hi {
			bad("%d > maximum %d", n, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	}
	return errs
}

// checkMeshSchema: every aimesh resource the program declares has a CRD
// in the chart it installs (../chart/aimesh/crds), is cluster-scoped or
// namespaced as that CRD says, and its spec fits the CRD's schema.
func checkMeshSchema(r *recording) error {
	crds, err := crdSchemas(DefaultConfig().AimeshChart)
	if err != nil {
		return err
	}
	var errs []error
	for _, x := range r.Resources {
		kind, ok := strings.CutPrefix(x.Type, tMeshPrefix)
		if !ok {
			continue
		}
		id := kind + "/" + str(dig(x.Inputs, "metadata", "name"))
		c, ok := crds[kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: the chart has no %s CRD for it", id, meshAPIVersion))
			continue
		}
		if ns := str(dig(x.Inputs, "metadata", "namespace")); (ns == "") != (c.scope == "Cluster") {
			errs = append(errs, fmt.Errorf("%s: namespace %q, but the CRD is %s", id, ns, c.scope))
		}
		spec, _ := dig(c.schema, "properties", "spec").(map[string]any)
		errs = append(errs, conform(id+".spec", x.Inputs["spec"], spec)...)
	}
	return errors.Join(errs...)
}
