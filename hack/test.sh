#!/usr/bin/env bash
# hack/test.sh is the test command (`make test`, and .ci/run calls it): it
# installs what the tests need, checks generated code and formatting, and
# runs every test, the integration ones against real servers.
#
# Tools land in ${AIMESH_CACHE:-$HOME/.cache/aimesh} once (hack/tools.sh):
# controller-gen and helm from the Go module proxy; etcd from Debian and a
# kube-apiserver built from Go modules (root and apt-get needed). Without
# root or apt-get the Kubernetes integration tests skip, naming what is
# missing; everything else still runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIMESH_CACHE=${AIMESH_CACHE:-$HOME/.cache/aimesh}
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30000x}

step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "tools: controller-gen, helm"
hack/tools.sh controller-gen
hack/tools.sh helm

step "tools: etcd, kube-apiserver, kubectl (cached after the first build)"
set +e
hack/tools.sh kube
rc=$?
set -e
case $rc in
0) export AIMESH_REQUIRE_KUBEENV=1 ;; # binaries are there: a skip would hide a broken setup
3) echo "test.sh: Kubernetes test binaries unavailable (see above): those tests will skip" ;;
*) exit "$rc" ;;
esac
eval "$(hack/tools.sh env)"

step "generated code is current (make generate)"
make --no-print-directory verify-generate

step "go vet and gofmt"
make --no-print-directory vet

step "go test -race ./..."
$GO test -race -count=1 -timeout 30m ./...

step "socket I/O paths without the race detector"
# internal/sockio reads and writes with RawSyscall only in builds without
# the race detector (with it, package syscall's calls keep the detector's
# view of socket happens-before); test that build of the packages using it.
$GO test -count=1 ./internal/sockio/ ./internal/fastlane/ ./internal/proxy/... ./internal/gateway/ ./test/e2e/

step "gateway with net/http alone (--http1-fast-lane=false)"
AIMESH_TEST_NET_HTTP_ONLY=1 $GO test -count=1 ./internal/gateway/

step "deploy/eks: Pulumi program tests (mocks)"
(cd deploy/eks && $GO vet ./... && $GO test -count=1 ./...)

step "fuzz targets, briefly ($FUZZTIME each)"
make --no-print-directory fuzz FUZZTIME="$FUZZTIME"

step "done"
