# aimesh: build, generate, test. `make test` is the one test command (the
# README's and CI's); it installs what the tests need (etcd, kube-apiserver,
# helm, controller-gen: see hack/tools.sh) into $(AIMESH_CACHE), once.

AIMESH_CACHE ?= $(HOME)/.cache/aimesh
export AIMESH_CACHE
BIN          := $(AIMESH_CACHE)/bin
GO           ?= go
CONTROLLER_GEN = $(BIN)/controller-gen
CRD_DIR      := deploy/chart/aimesh/crds
FUZZTIME     ?= 30000x

.PHONY: all build demo generate verify-generate vet test test-go test-eks fuzz bench bench-overhead tools clean

all: build

build:
	$(GO) build -o $(BIN)/aimesh ./cmd/aimesh

demo:
	$(GO) run ./cmd/aimesh demo

tools:
	hack/tools.sh all

$(CONTROLLER_GEN):
	hack/tools.sh controller-gen

# Deepcopy and CRDs come only from here; CI fails when they are stale.
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=false paths=./api/... output:crd:artifacts:config=$(CRD_DIR)

verify-generate: generate
	@git diff --exit-code -- api $(CRD_DIR) || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api $(CRD_DIR))" || { git status --porcelain -- api $(CRD_DIR); echo "generated files are not committed: run 'make generate' and commit"; exit 1; }

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# The test command: tools, generated-code check, vet, every package's
# tests (integration ones start real servers), the EKS program's tests and
# short fuzz runs.
test:
	hack/test.sh

test-go:
	$(GO) test -race -count=1 ./...

test-eks:
	cd deploy/eks && $(GO) test -count=1 ./...

fuzz:
	$(GO) test ./internal/config -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/openai -run='^$$' -fuzz=FuzzInspect -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/fastlane -run='^$$' -fuzz=FuzzParseHead -fuzztime=$(FUZZTIME)

# bench: the testing.B benchmarks, then bench-overhead.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/route ./internal/proxy ./internal/openai ./internal/telemetry ./internal/gateway
	$(MAKE) bench-overhead

# bench-overhead: client-observed cost of aimesh against nginx and HAProxy
# (bench/overhead, about 20 minutes; installs nginx and haproxy with apt-get
# when missing) and the 5,000-route swap test; rewrites its section of
# docs/benchmarks.md. Binaries, configs and logs go to $(AIMESH_CACHE).
# On a shared machine the measured processes run at nice -10 (root).
BENCH_FLAGS ?= -nice -10
bench-overhead:
	$(GO) build -o $(BIN)/aimesh-bench ./cmd/aimesh
	$(GO) build -o $(BIN)/bench-overhead ./bench/overhead
	$(BIN)/bench-overhead -aimesh $(BIN)/aimesh-bench -work $(AIMESH_CACHE)/bench-overhead -doc docs/benchmarks.md $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)/aimesh
