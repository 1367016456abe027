# The fault table's helpers (issue #13). make faults (in the Makefile) runs
# the whole catalogue in one go; these run it in batches, each one command,
# merging into reports/faults/ (--faults-merge), with upstream's column.

.PHONY: faults-upstream-build faults-batch

## faults-upstream-build: upstream's conformance runner as a test binary
## (suite/upstream/runner), which TestFaults runs for the upstream column
UPSTREAM_TEST := $(BIN)/gammaproof-upstream.test
faults-upstream-build:
	$(GO) test -c -tags conformance -o $(UPSTREAM_TEST) ./suite/upstream/runner

## faults-batch: FAULTS (comma-separated catalogue names) against our suite
## and upstream's on the local cluster, merged into reports/faults/
## (FAULT_REPEATS runs each; the correct mesh runs the batch's scenarios);
## FAULTS_ADD_RUNS=1 adds the runs to those already in the rows (repeats
## measured in several sittings)
FAULTS ?= prefix-not-segment-bounded,timeout-ignored
faults-batch: kube build faults-build faults-upstream-build
	$(GO) test -c -tags e2e -o $(E2E_TEST) ./suite/e2e
	$(E2E_TEST) -test.timeout 120m -test.v -test.run '^TestFaults$$' --env=local --faults=$(FAULTS) \
		--fault-repeats=$(FAULT_REPEATS) --faults-merge --faults-upstream=$(UPSTREAM_TEST) \
		$(if $(FAULTS_ADD_RUNS),--faults-add-runs)
