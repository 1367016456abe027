package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/gammaproof/gammaproof/suite/e2e/testmain"
	"github.com/gammaproof/gammaproof/suite/scenario"
)

// Environment returns the e2e-framework environment of the run, over ctx:
// scenarios run in parallel unless --scenario-concurrency=1, and each
// selected scenario reports its start and end to the progress.
func (s *Suite) Environment(ctx context.Context) (env.Environment, error) {
	if s.Parallel() {
		s.cfg.WithParallelTestEnabled()
	}
	e, err := env.NewWithContext(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("create the test environment: %w", err)
	}
	// Other features of the test binary (benchmarks, fault tests) are not
	// scenarios: they have no progress lines.
	e.BeforeEachFeature(func(ctx context.Context, _ *envconf.Config, _ *testing.T, f features.Feature) (context.Context, error) {
		if s.isScenario(f.Name()) {
			s.progress.Started(f.Name())
		}
		return ctx, nil
	})
	e.AfterEachFeature(func(ctx context.Context, _ *envconf.Config, _ *testing.T, f features.Feature) (context.Context, error) {
		if !s.isScenario(f.Name()) || s.runner == nil {
			return ctx, nil
		}
		for _, r := range s.runner.Results() {
			if r.Name == f.Name() {
				s.progress.Ended(r)
			}
		}
		return ctx, nil
	})
	return e, nil
}

func (s *Suite) isScenario(name string) bool {
	return slices.ContainsFunc(s.scenarios, func(sc *scenario.Scenario) bool { return sc.Name == name })
}

// Test runs every selected scenario as a feature of e under t.
func (s *Suite) Test(t *testing.T, e env.Environment) {
	if s.runner == nil {
		t.Fatal("the environment was not set up; see the errors above")
	}
	defer s.ScenariosDone()
	fs := s.Features()
	s.progress.Begin(selected(s.cfg, fs))
	defer s.progress.End()
	if s.Parallel() {
		e.TestInParallel(t, fs...)
		return
	}
	e.Test(t, fs...)
}

// Run runs the suite once in a program that is not a test binary: Setup,
// every selected scenario (as `go test` would, with e2e-framework as the
// engine), then Finish, which runs even when Setup failed so a cluster the
// suite created is removed. What the testing package prints goes to
// testOutput. The verdicts are in [Suite.Summary]; an error means the run
// itself failed (no cluster, no install, reports not written).
func (s *Suite) Run(ctx context.Context, testOutput io.Writer) error {
	e, err := s.Environment(ctx)
	if err != nil {
		return err
	}
	_, setupErr := s.Setup(ctx, s.cfg)
	if setupErr == nil {
		testmain.Run(testOutput, "verify", func(t *testing.T) { s.Test(t, e) })
	}
	_, finishErr := s.Finish(context.WithoutCancel(ctx), s.cfg)
	if setupErr != nil {
		return errors.Join(fmt.Errorf("set up: %w", setupErr), finishErr)
	}
	if err := ctx.Err(); err != nil {
		return errors.Join(fmt.Errorf("run interrupted: %w", err), finishErr)
	}
	return finishErr
}

// selected counts the features e2e-framework will run under cfg's
// selection: --feature, --skip-features, --labels and --skip-labels.
func selected(cfg *envconf.Config, fs []features.Feature) int {
	n := 0
	for _, f := range fs {
		if selects(cfg, f.Name(), f.Labels()) {
			n++
		}
	}
	return n
}

// Select returns the scenarios of all that a run under cfg's selection
// (--feature, --skip-features, --labels, --skip-labels) runs, judging
// them by the labels the runner gives them: profile, scenario and one
// feature label per feature.
func Select(cfg *envconf.Config, all []*scenario.Scenario) []*scenario.Scenario {
	var out []*scenario.Scenario
	for _, sc := range all {
		labels := map[string][]string{"profile": {sc.Profile}, "scenario": {sc.Name}, "feature": sc.Features}
		if selects(cfg, sc.Name, labels) {
			out = append(out, sc)
		}
	}
	return out
}

// selects reports whether cfg's selection runs the feature of this name
// and labels.
func selects(cfg *envconf.Config, name string, labels map[string][]string) bool {
	if re := cfg.FeatureRegex(); re != nil && !re.MatchString(name) {
		return false
	}
	if re := cfg.SkipFeatureRegex(); re != nil && re.MatchString(name) {
		return false
	}
	return labelsMatch(cfg.Labels(), labels) && !labelsHit(cfg.SkipLabels(), labels)
}

// labelsMatch: every key of want has one of its values among have's.
func labelsMatch(want, have map[string][]string) bool {
	for k, vals := range want {
		if !labelsHit(map[string][]string{k: vals}, have) {
			return false
		}
	}
	return true
}

// labelsHit: some key of want has one of its values among have's.
func labelsHit(want, have map[string][]string) bool {
	for k, vals := range want {
		for _, v := range vals {
			for _, h := range have[k] {
				if h == v {
					return true
				}
			}
		}
	}
	return false
}
