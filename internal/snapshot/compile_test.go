package snapshot

import (
	"strings"
	"testing"

	"github.com/aimesh/aimesh/internal/config"
	"github.com/aimesh/aimesh/internal/discovery"
)

// sameHostnameConfig has two VirtualServices of one mesh whose names are
// one hostname (case-insensitively), in two namespaces, each with its own
// provider. Validation refuses it; Compile must too, should it get there.
const sameHostnameConfig = `
apiVersion: aimesh.io/v1alpha1
kind: Mesh
metadata: {name: m}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: a, namespace: team-a}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {static: {endpoints: [{address: 127.0.0.1}]}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualNode
metadata: {name: b, namespace: team-b}
spec:
  listeners: [{portMapping: {port: 8000, protocol: http}}]
  serviceDiscovery: {static: {endpoints: [{address: 127.0.0.2}]}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: llm.local, namespace: team-a}
spec: {provider: {virtualNode: {virtualNodeName: a}}}
---
apiVersion: aimesh.io/v1alpha1
kind: VirtualService
metadata: {name: LLM.local, namespace: team-b}
spec: {provider: {virtualNode: {virtualNodeName: b}}}
`

// decodeDefault decodes a YAML configuration and fills in its defaults,
// as a reload does before it compiles (validation left out).
func decodeDefault(t *testing.T, doc string) *config.Resources {
	t.Helper()
	res, errs := config.Decode("t.yaml", []byte(doc))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	config.Default(res)
	return res
}

func TestCompileRefusesTwoServicesWithOneHostname(t *testing.T) {
	res := decodeDefault(t, sameHostnameConfig)
	snap, err := Compile(res, Options{Endpoints: discovery.NewRegistry(nil)})
	if err == nil {
		t.Fatalf("compiled; llm.local is served by %s", snap.Service("llm.local").Node.Node.Name)
	}
	for _, want := range []string{"team-a/llm.local", "team-b/LLM.local", `"llm.local"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}

	// One of them alone compiles: the refusal is about the pair.
	res.VirtualServices = res.VirtualServices[:1]
	if _, err := Compile(res, Options{Endpoints: discovery.NewRegistry(nil)}); err != nil {
		t.Fatalf("one service alone: %v", err)
	}
}
