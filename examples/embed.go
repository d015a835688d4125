// Package examples holds runnable aimesh configurations; SeedMesh is the
// seed mesh that `aimesh demo` serves.
package examples

import _ "embed"

// SeedMesh is examples/seed-mesh.yaml.
//
//go:embed seed-mesh.yaml
var SeedMesh []byte
