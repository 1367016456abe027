# gammaproof verify's own targets. docs/verify.md says what they do.

.PHONY: verify-registry

## verify-registry: issue #15's registry path end to end on the local cluster:
## a registry on loopback (go-containerregistry's pkg/registry, in the test
## process), `gammaproof images push --registry`, then the lone gammaproof
## binary, in an empty directory, runs `verify --image-registry` against the
## local cluster, whose node pulls every gammaproof image from the registry.
## Builds and pushes first, then takes the cluster lock (/tmp/gammaproof-cluster.lock)
## for the cluster part; starts the local cluster unless one runs.
## VERIFY_REGISTRY_ARGS: more verify flags (e.g. --feature=^mesh-basic$).
VERIFY_REGISTRY_TEST := $(BIN)/gammaproof-cmd-e2e.test
VERIFY_REGISTRY_ARGS ?=
verify-registry: kube build
	$(GO) test -c -tags e2e -o $(VERIFY_REGISTRY_TEST) ./cmd/gammaproof
	cd cmd/gammaproof && $(VERIFY_REGISTRY_TEST) -test.run '^TestRegistryVerify$$' -test.v -test.timeout 60m \
		-registry-verify-args='$(VERIFY_REGISTRY_ARGS)'
