package upstream

import (
	"slices"
	"strings"

	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// Level is how a test counts toward a profile in upstream's report.
type Level string

// Levels. A test is core for a profile when every feature it needs is a
// core feature of that profile, extended when some is extended only.
const (
	Core     Level = "core"
	Extended Level = "extended"
)

// Test is one of upstream's conformance tests, as registered in
// tests.ConformanceTests.
type Test struct {
	// ShortName is the test's name in upstream's report and test log,
	// such as "MeshTrafficSplit".
	ShortName string
	// Features are the feature names the test needs; it is skipped unless
	// all are supported.
	Features []string
	// Profiles maps each mesh profile the test counts toward to its
	// level there. A test that needs a feature outside a profile (such as
	// HTTPRouteResponseHeaderModification) counts toward none: it runs,
	// but upstream's report does not mention it.
	Profiles map[string]Level
	// Provisional marks a test upstream may skip with
	// --skip-provisional-tests.
	Provisional bool
}

// MeshTests lists upstream's mesh tests (those needing the Mesh feature) in
// registration order.
func MeshTests() []Test {
	var out []Test
	for _, ct := range tests.ConformanceTests {
		if !slices.Contains(ct.Features, features.SupportMesh) {
			continue
		}
		out = append(out, newTest(ct, meshProfiles()))
	}
	return out
}

// MeshTest returns the mesh test with the short name, if upstream has it.
func MeshTest(shortName string) (Test, bool) {
	for _, t := range MeshTests() {
		if t.ShortName == shortName {
			return t, true
		}
	}
	return Test{}, false
}

func newTest(ct suite.ConformanceTest, profiles []suite.ConformanceProfile) Test {
	t := Test{ShortName: ct.ShortName, Profiles: map[string]Level{}, Provisional: ct.Provisional}
	for _, f := range ct.Features {
		t.Features = append(t.Features, string(f))
	}
	for _, p := range profiles {
		if lvl, ok := levelIn(p, ct); ok {
			t.Profiles[string(p.Name)] = lvl
		}
	}
	return t
}

// levelIn says whether the test counts toward the profile (all its
// features are core or extended there, as upstream's
// getConformanceProfilesForTest decides) and at which level (extended if
// any feature is not core, as upstream's isTestExtended decides).
func levelIn(p suite.ConformanceProfile, ct suite.ConformanceTest) (Level, bool) {
	lvl := Core
	for _, f := range ct.Features {
		switch {
		case p.CoreFeatures.Has(f):
		case p.ExtendedFeatures.Has(f):
			lvl = Extended
		default:
			return "", false
		}
	}
	return lvl, true
}

// String returns the short name and the profiles, for test messages.
func (t Test) String() string {
	var ps []string
	for p, l := range t.Profiles {
		ps = append(ps, p+"/"+string(l))
	}
	slices.Sort(ps)
	return t.ShortName + "[" + strings.Join(ps, ",") + "]"
}
