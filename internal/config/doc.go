// Package config turns aimesh resource documents into a validated
// Resources set, in steps that each have their own function and tests:
//
//   - Decode (decode.go): multi-document YAML, strict: unknown and duplicate
//     fields are errors, as are unknown kinds and API versions.
//   - Default (defaults.go): fills in what App Mesh defaults and what a
//     single-mesh file leaves implicit (meshRef, virtualGatewayRef).
//   - Validate (validate.go): ranges, one-of rules, regexes and every
//     reference between resources.
//
// Every problem is reported, not just the first, as a FieldError naming the
// file, the document index, Kind/name and the field path, e.g.
//
//	mesh.yaml[3] VirtualRouter/ai-virtual-router: spec.routes[0].httpRoute.action.weightedTargets[1].virtualNode: VirtualNode "llama-v3" not found
//
// The same Resources come from the Kubernetes API in --kubernetes mode; then
// sources carry no file and errors name namespace/name instead.
package config
