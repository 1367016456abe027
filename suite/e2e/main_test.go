//go:build e2e

package e2e

import (
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

func TestMain(m *testing.M) {
	opts := RegisterFlags(flag.CommandLine)
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	suite, err = NewSuite(*opts, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	if suite.Parallel() {
		cfg.WithParallelTestEnabled()
	}
	testenv = env.NewWithConfig(cfg)
	testenv.Setup(suite.Setup)
	testenv.Finish(suite.Finish)
	os.Exit(testenv.Run(m))
}

// TestScenarios runs every scenario as a feature.
func TestScenarios(t *testing.T) {
	if suite.runner == nil {
		t.Fatal("the environment was not set up; see the errors above")
	}
	defer suite.ScenariosDone()
	if suite.Parallel() {
		testenv.TestInParallel(t, suite.Features()...)
		return
	}
	testenv.Test(t, suite.Features()...)
}
