package policies

import (
	"fmt"
	"testing"

	v1 "github.com/aimesh/aimesh/api/v1alpha1"
	"github.com/aimesh/aimesh/internal/picker"
	"github.com/aimesh/aimesh/internal/picker/prefix"
)

func TestRegistryHasEveryPolicy(t *testing.T) {
	r := Registry()
	if got := fmt.Sprint(r.Names()); got != "[inference leastRequest random roundRobin]" {
		t.Fatalf("Names = %s", got)
	}
	for _, name := range r.Names() {
		cfg := picker.ConfigFrom(&v1.LoadBalancing{Policy: name}, nil)
		if _, err := r.New(cfg, &picker.Shared{Index: prefix.New(0)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if r.NeedsPrompt(name) != (name == v1.LoadBalancingInference) {
			t.Errorf("%s: NeedsPrompt = %v", name, r.NeedsPrompt(name))
		}
	}
}
