# kind without pulling anything: an offline node image and the kind e2e run.
# docs/kind.md tells what they do and why.

KIND_CONFIG ?= kind-configs/default.yaml
# How many scenarios run at once on kind (pods start slowly in kind nodes).
KIND_SCENARIO_CONCURRENCY ?= 3
export KIND_SCENARIO_CONCURRENCY

.PHONY: kind-node-bins kind-node-image e2e-kind

## kind-node-bins: kubelet, kubeadm, CoreDNS, pause and the runc wrapper of
## the offline kind node image into bin/kind/ (rebuilt when a pin changes;
## needs no container engine)
kind-node-bins:
	@./hack/kind/build-bins.sh

## kind-node-image: the offline kind node image, tagged as kind-configs/ name
## it; rebuilt only when an input changed; starts dockerd for the build when
## none answers (and stops it)
kind-node-image: kube kind-node-bins
	@./hack/kind/engine.sh run ./hack/kind/node-image.sh

## e2e-kind: every scenario on a kind cluster from KIND_CONFIG (default the
## three-node kind-configs/default.yaml, which adds the cross-node scenarios
## of kind-configs/scenarios/); the node image is built when missing or
## stale; dockerd is started for the run when none answers (and stopped)
e2e-kind: build kube kind-node-bins
	./hack/kind/engine.sh run ./hack/kind/e2e.sh $(KIND_CONFIG) $(E2E_FLAGS)
