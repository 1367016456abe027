//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
)

var (
	testenv env.Environment
	suite   *Suite
)

// TestMain runs the suite as a test binary (`go test -tags e2e`), for the
// benchmarks and fault tests beside the scenarios; `gammaproof verify` runs
// the same Suite without one.
func TestMain(m *testing.M) {
	opts := RegisterFlags(flag.CommandLine)
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	suite, err = NewSuite(*opts, cfg, Host{Progress: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	testenv, err = suite.Environment(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	testenv.Setup(suite.Setup)
	testenv.Finish(suite.Finish)
	code := testenv.Run(m)
	if sum := suite.Summary(); len(sum.Scenarios) > 0 {
		if err := sum.WriteTable(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
		}
	}
	os.Exit(code)
}

// TestScenarios runs every scenario as a feature.
func TestScenarios(t *testing.T) {
	suite.Test(t, testenv)
}
