// Package kube holds the integration tests of aimesh's Kubernetes mode
// against a real kube-apiserver (test/kubeenv): the generated CRDs, the
// control plane (internal/kube) driving a gateway to model servers in test
// hosts, and the Helm chart. They skip, naming the command that installs
// what is missing, without the binaries or root; CI sets
// AIMESH_REQUIRE_KUBEENV=1 to turn those skips into failures.
package kube
