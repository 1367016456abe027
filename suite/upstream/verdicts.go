package upstream

import (
	"fmt"
	"os"
	"slices"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// knownProfiles are upstream's conformance profiles, by report name.
var knownProfiles = map[string]suite.ConformanceProfile{}

func init() {
	for _, p := range []suite.ConformanceProfile{
		suite.GatewayHTTPConformanceProfile, suite.GatewayTLSConformanceProfile,
		suite.GatewayTCPConformanceProfile, suite.GatewayUDPConformanceProfile,
		suite.GatewayGRPCConformanceProfile,
		suite.MeshHTTPConformanceProfile, suite.MeshGRPCConformanceProfile,
	} {
		knownProfiles[string(p.Name)] = p
	}
}

// ReadReport reads a ConformanceReport that upstream's suite wrote (YAML).
func ReadReport(path string) (*confv1.ConformanceReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read upstream report: %w", err)
	}
	var r confv1.ConformanceReport
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("parse upstream report %s: %w", path, err)
	}
	return &r, nil
}

// Verdicts turns upstream's report into a verdict per test short name:
// FAIL for a test the report lists as failed, SKIP for one it lists as
// skipped or whose features were not all supported, PASS for the rest.
//
// Upstream's report names failed and skipped tests but only counts passed
// ones, so a pass is inferred from the profile's tests (tests.ConformanceTests)
// and supported features (the profile's core features plus the report's
// extended supportedFeatures); the inferred passes must add up to the
// report's counts, or Verdicts returns an error (a report of another
// upstream version, or edited). A test in two profiles gets the worse of its
// two verdicts. Tests that count toward no profile of the report (see
// [Test].Profiles) are absent: the report says nothing about them.
func Verdicts(r *confv1.ConformanceReport) (map[string]verdict.Verdict, error) {
	out := map[string]verdict.Verdict{}
	succeededProvisional := r.SucceededProvisionalTests
	for _, pr := range r.ProfileReports {
		p, ok := knownProfiles[pr.Name]
		if !ok {
			return nil, fmt.Errorf("read profile %q of upstream report: upstream defines no such profile", pr.Name)
		}
		supported := p.CoreFeatures.Clone()
		var ext confv1.Status
		if pr.Extended != nil {
			ext = pr.Extended.Status
			for _, f := range pr.Extended.SupportedFeatures {
				supported.Insert(featureName(f))
			}
		}
		passed := map[Level]uint32{}
		for _, ct := range tests.ConformanceTests {
			lvl, in := levelIn(p, ct)
			if !in {
				continue
			}
			st := pr.Core
			if lvl == Extended {
				st = ext
			}
			v := verdict.Skip
			switch {
			case slices.Contains(st.FailedTests, ct.ShortName):
				v = verdict.Fail
			case slices.Contains(st.SkippedTests, ct.ShortName):
			case !supported.HasAll(ct.Features...):
			case ct.Provisional && !slices.Contains(succeededProvisional, ct.ShortName):
				// skipped with --skip-provisional-tests: not in the report
			default:
				v = verdict.Pass
				passed[lvl]++
			}
			if old, seen := out[ct.ShortName]; !seen || rank(v) > rank(old) {
				out[ct.ShortName] = v
			}
		}
		if err := checkCounts(pr.Name, Core, pr.Core, passed[Core]); err != nil {
			return nil, err
		}
		if err := checkCounts(pr.Name, Extended, ext, passed[Extended]); err != nil {
			return nil, err
		}
	}
	for _, name := range succeededProvisional {
		if out[name] != verdict.Pass {
			return nil, fmt.Errorf("check upstream report: provisional test %s succeeded but its profiles say %s", name, out[name])
		}
	}
	return out, nil
}

// checkCounts compares the report's statistics of one level of a profile
// with the names it lists and the passes inferred.
func checkCounts(profileName string, lvl Level, st confv1.Status, inferred uint32) error {
	switch {
	case st.Passed != inferred:
		return fmt.Errorf("check upstream report: %s %s counts %d passed tests, the supported features give %d", profileName, lvl, st.Passed, inferred)
	case int(st.Failed) != len(st.FailedTests):
		return fmt.Errorf("check upstream report: %s %s counts %d failed tests but lists %d", profileName, lvl, st.Failed, len(st.FailedTests))
	case int(st.Skipped) != len(st.SkippedTests):
		return fmt.Errorf("check upstream report: %s %s counts %d skipped tests but lists %d", profileName, lvl, st.Skipped, len(st.SkippedTests))
	}
	return nil
}

// rank orders the verdicts Verdicts gives, best first, for merging a test's
// verdicts from two profiles.
func rank(v verdict.Verdict) int {
	switch v {
	case verdict.Pass:
		return 0
	case verdict.Skip:
		return 1
	}
	return 2
}
