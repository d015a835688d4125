// Package kubeenv gives integration tests a real Kubernetes API server and
// test hosts with routable addresses, on one machine, without Docker.
//
// Start runs etcd and kube-apiserver as child processes on free loopback
// ports and returns an *Env with a *rest.Config, a clientset and a
// kubeconfig file. The API server can be stopped and started again mid-test
// on the same address with the same credentials (etcd keeps running), so a
// test can show that a component keeps serving while the control plane is
// down. WithCRDDir installs CustomResourceDefinitions and waits until they
// are served.
//
// The binaries come from `hack/tools.sh kube`, which builds them into
// ${AIMESH_CACHE:-$HOME/.cache/aimesh}/kube/<KubeVersion>; KUBEBUILDER_ASSETS
// overrides that directory. When they are missing, Start skips the test
// with a message naming each missing file and the command that installs it.
//
// EndpointSlices reject loopback addresses, so model servers that a test
// Service points at run as test hosts: NewTestHost creates a network
// namespace joined to the host by a veth pair with addresses from
// 198.18.0.0/15 (reserved for network benchmarks), and TestHost.Listen and
// TestHost.Serve open listeners inside it from the test process. Test hosts
// need root and iproute2's ip; without them the test is skipped.
//
// Set AIMESH_REQUIRE_KUBEENV=1 (CI does) to turn these skips into failures,
// so a broken install cannot pass as a run of skipped tests.
package kubeenv
