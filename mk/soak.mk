# Issue #16 items 1-3: the node agent restarted under load, a grant revoked
# under traffic, and a soak with churn, on the local cluster.

# make test runs the node restart, grant revocation and 60 s soak tests in
# e2e-robustness (Makefile).

## soak: TestSoakWithChurn on the local cluster for SOAK_DURATION (default
## 10m; make test runs it for 60s): two routes at 200 req/s while weights,
## replicas, pods and the grant change every 3 s; prints wrong-backend
## answers, failed requests in and outside the declared windows, and the
## controller's and node agent's RSS and goroutines over time.
SOAK_DURATION ?= 10m
SOAK_TEST := $(BIN)/gammaproof-e2e-soak.test
.PHONY: soak
soak: kube build
	$(GO) test -c -tags e2e -o $(SOAK_TEST) ./suite/e2e
	SOAK_DURATION=$(SOAK_DURATION) $(SOAK_TEST) -test.timeout 90m -test.v -test.run '^TestSoakWithChurn$$' --env=local --grant-policy=strict
