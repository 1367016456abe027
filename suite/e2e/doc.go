// Package e2e is the verification suite's entry point: `make e2e` runs its
// tests (build tag e2e) against a local, kind or existing cluster, one
// e2e-framework feature per scenario, and writes reports/latest/.
package e2e
