package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// leafPaths lists the dotted paths of the values in v that are not
// non-empty maps.
func leafPaths(prefix string, v map[string]any) []string {
	var out []string
	for k, x := range v {
		if m, ok := x.(map[string]any); ok && len(m) > 0 {
			out = append(out, leafPaths(prefix+k+".", m)...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

// unknownChartValues returns the values in set that the chart at dir does
// not declare in its values.yaml (Helm would ignore them silently).
func unknownChartValues(dir string, set map[string]any) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	var chart struct{ Name string }
	if err := yaml.Unmarshal(b, &chart); err != nil || chart.Name != aimeshRelease {
		return nil, fmt.Errorf("Chart.yaml: name %q (%v), want %s", chart.Name, err, aimeshRelease)
	}
	if b, err = os.ReadFile(filepath.Join(dir, "values.yaml")); err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		return nil, fmt.Errorf("values.yaml: %w", err)
	}
	declared := leafPaths("", values)
	const annotations = "gateway.service.annotations" // a free-form map
	var unknown []string
	for _, p := range leafPaths("", set) {
		if strings.HasPrefix(p, annotations+".") {
			p = annotations
		}
		if !slices.Contains(declared, p) {
			unknown = append(unknown, p)
		}
	}
	return unknown, nil
}

// TestChartHasTheValuesTheProgramSets reads the repo's chart where the
// program installs it from, so a chart value renamed on one side only
// fails here instead of being ignored by Helm on EKS.
func TestChartHasTheValuesTheProgramSets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AimeshImageRepository, cfg.AimeshImageTag = "repo", "tag"
	unknown, err := unknownChartValues(cfg.AimeshChart, aimeshValues(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(unknown) > 0 {
		t.Errorf("the program sets chart values the chart does not have: %v", unknown)
	}
	cfg.AimeshValues = map[string]any{"gateway": map[string]any{"svc": map[string]any{"type": "LoadBalancer"}}}
	if unknown, _ := unknownChartValues(cfg.AimeshChart, aimeshValues(cfg)); !slices.Equal(unknown, []string{"gateway.svc.type"}) {
		t.Errorf("a misspelt value is not caught: unknown = %v", unknown)
	}
}
