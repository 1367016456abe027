# gammaproof — see README.md. Everything builds into bin/ (git-ignored).
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
export GAMMAPROOF_BIN := $(BIN)
# ENV picks the cluster for `make e2e`: kind when a container engine answers, else local.
ENV ?= $(shell if (docker info >/dev/null 2>&1 || podman info >/dev/null 2>&1); then echo kind; else echo local; fi)
E2E_FLAGS ?=

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

COMMANDS := gammaproof gamma-localnode gamma-controller gamma-node gamma-echo gamma-client

.PHONY: all build kube test e2e e2e-robustness faults-build faults fuzz istio-echo conformance cluster-up cluster-down cluster-status images bpf bench publish-report clean

all: build

# Each area's own targets (kind, soak, ...).
-include mk/*.mk

## build: our binaries into bin/ (static, CGO off)
build:
	@mkdir -p $(BIN)
	@for c in $(COMMANDS); do \
		if [ -d cmd/$$c ]; then CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$c ./cmd/$$c || exit 1; fi; \
	done

## kube: Kubernetes + etcd binaries from the pinned tools/kube module (cached in bin/)
kube:
	@./hack/build-kube.sh

## test: every test (needs root and Linux for the cluster, netns and eBPF tests),
## then the end-to-end suite on the local cluster (every scenario, and the
## controller killed under load).
## -p 1: the cluster, node and netns tests share machine-wide ports, the gp0
## bridge and 198.18.0.0/16, so test packages run one at a time.
test: kube build
	$(GO) vet ./...
	$(GO) vet -tags e2e ./suite/e2e/
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go' | grep -v '^tools/'); exit 1; }
	$(GO) test -count=1 -p 1 -timeout 45m ./...
	$(MAKE) e2e ENV=local
	$(MAKE) e2e-robustness

## e2e-robustness: the e2e-only tests on the local cluster: the controller
## and the node agent killed under load, two faults caught (and the correct
## mesh passed); then, under the strict grant policy, a grant revoked under
## traffic and a 60 s soak with churn (make soak: 10 minutes).
E2E_TEST := $(BIN)/gammaproof-e2e.test
e2e-robustness: kube build faults-build
	$(GO) test -c -tags e2e -o $(E2E_TEST) ./suite/e2e
	$(E2E_TEST) -test.timeout 30m -test.v -test.run '$(ROBUSTNESS_TESTS)' --env=local --faults-report-dir=$(BIN)/faults-report
	SOAK_DURATION=60s $(E2E_TEST) -test.timeout 30m -test.v -test.run '$(STRICT_ROBUSTNESS_TESTS)' --env=local --grant-policy=strict
ROBUSTNESS_TESTS := ^(TestControllerRestartUnderLoad|TestNodeRestartUnderLoad|TestFaults)$$
STRICT_ROBUSTNESS_TESTS := ^(TestGrantRevocationUnderTraffic|TestSoakWithChurn)$$

## faults-build: the fault-injecting controller (build tag gammaproof_faults) into bin/faults/
faults-build:
	@./hack/build-faults.sh

## faults: every catalogued fault against our suite on the local cluster;
## writes reports/faults/ (FAULT_REPEATS runs per fault), with upstream's mesh
## tests on the same faulty mesh beside ours. Slow: not in make test.
FAULT_REPEATS ?= 3
faults: kube build faults-build faults-upstream-build
	$(GO) test -c -tags e2e -o $(E2E_TEST) ./suite/e2e
	$(E2E_TEST) -test.timeout 180m -test.v -test.run '^TestFaults$$' --env=local --faults=all --fault-repeats=$(FAULT_REPEATS) \
		--faults-upstream=$(UPSTREAM_TEST)

## fuzz: every fuzz target for FUZZTIME each (default 60s)
fuzz:
	./hack/fuzz.sh

## istio-echo: upstream's echo app (Istio's echo server and client) into bin/
istio-echo:
	@./hack/build-istio-echo.sh

## conformance: upstream's own mesh conformance tests, unchanged, against the
## local cluster (ENV=existing: the current kubeconfig); reports/latest/upstream/
conformance:
	ENV=$(if $(filter kind,$(ENV)),local,$(ENV)) ./hack/conformance.sh

## e2e: run every scenario against the implementation under test; writes reports/latest/.
## A thin wrapper over `gammaproof verify`; only ENV=local builds Kubernetes (make kube).
e2e: build $(if $(filter local,$(ENV)),kube)
	@echo "e2e: environment $(ENV) (override with ENV=local|kind|existing)"
	$(if $(filter kind,$(ENV)),$(MAKE) --no-print-directory e2e-kind,$(BIN)/gammaproof verify --env=$(ENV) $(E2E_FLAGS))

cluster-up: kube build
	$(BIN)/gammaproof cluster up

cluster-down:
	@if [ -x $(BIN)/gammaproof ]; then $(BIN)/gammaproof cluster down; else $(GO) run ./cmd/gammaproof cluster down; fi

cluster-status: build
	$(BIN)/gammaproof cluster status

## publish-report: a full run on the local cluster under both grant policies,
## published under reports/v1.6/gammaproof/ (upstream's layout and naming)
publish-report: kube build
	./hack/publish-report.sh

## images: OCI image tarballs of our binaries for kind (bin/images/*.tar)
images: build
	$(BIN)/gammaproof images --out $(BIN)/images

## bpf: regenerate the eBPF objects (needs clang, llvm, libbpf-dev)
bpf:
	$(GO) generate ./bpf/...

## bench: the benchmarks that carry the speed and memory goals; prints the
## figures. The cluster part (route and grant convergence, data plane against
## direct pod-to-pod) uses the running local cluster, or starts one and stops it.
bench: kube build
	$(GO) test -run '^$$' -bench 'BenchmarkProxy' -benchtime 5000x -benchmem ./impl/proxy/
	$(GO) test -run '^$$' -bench 'Translate10k|Snapshot10k' -benchtime 3x -benchmem ./impl/xds/
	$(GO) test -run '^$$' -bench 'Build' -benchtime 3x -benchmem ./impl/model/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bpf/steer/
	$(GO) test -run '^$$' -bench 'SplitBatch' ./suite/stats/
	$(GO) test -count=1 -run 'TestSim' -v ./suite/stats/ -args -sim.long
	@$(GO) test -c -tags e2e -o $(BIN)/gammaproof-e2e.test ./suite/e2e
	$(BIN)/gammaproof-e2e.test -test.run '^$$' -test.bench . -test.benchtime 1x -test.v --env=local --grant-policy=strict $(E2E_FLAGS)

clean:
	rm -rf $(BIN) reports/latest
