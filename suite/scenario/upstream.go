package scenario

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/upstream"
)

// OwnFeaturePrefix starts the feature names of gammaproof's own behaviours,
// those upstream's conformance suite has no name for (such as
// GammaproofStrictGrants). Every other feature name of a scenario must be
// one upstream defines (sigs.k8s.io/gateway-api/pkg/features).
const OwnFeaturePrefix = "Gammaproof"

// upstreamFeatures is upstream's vocabulary, read once.
var upstreamFeatures = sync.OnceValue(upstream.FeatureNames)

// validateUpstream holds a scenario to upstream's words: its features are
// upstream's names (or ours, prefixed); a scenario that names an upstream
// test needs at least that test's features, belongs to a profile the test
// counts toward (if any), and is core exactly when the test is core there;
// a scenario without one is core only if all its features are core in its
// profile.
func validateUpstream(s *Scenario) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	known := upstreamFeatures()
	for i, f := range s.Features {
		if !known.Known(f) && !strings.HasPrefix(f, OwnFeaturePrefix) {
			bad(fmt.Sprintf("features[%d]", i), "%q is neither an upstream mesh, HTTPRoute or GRPCRoute feature name (sigs.k8s.io/gateway-api/pkg/features) nor one of ours (%s...)", f, OwnFeaturePrefix)
		}
	}
	if s.Upstream == "" {
		if s.Core {
			for _, f := range s.Features {
				if !known.IsCore(s.Profile, f) {
					bad("core", "true, but feature %s is not core in upstream's %s profile", f, s.Profile)
				}
			}
		}
		return errs
	}
	t, ok := upstream.MeshTest(s.Upstream)
	if !ok {
		bad("upstream", "%q is not one of upstream's mesh conformance tests", s.Upstream)
		return errs
	}
	for _, f := range t.Features {
		if !slices.Contains(s.Features, f) {
			bad("features", "lacks %s, which upstream's %s needs (it needs %s)", f, t.ShortName, strings.Join(t.Features, ", "))
		}
	}
	lvl, counted := t.Profiles[s.Profile]
	if len(t.Profiles) > 0 && !counted {
		bad("profile", "%s, but upstream's %s counts toward %s", s.Profile, t.ShortName, t)
	}
	if s.Profile == profile.Gammaproof {
		bad("profile", "%s is for our own behaviours, but the scenario names upstream's %s", s.Profile, t.ShortName)
	}
	if want := lvl == upstream.Core; s.Core != want {
		bad("core", "%v, but upstream's %s is %s", s.Core, t.ShortName, describeLevel(t, s.Profile))
	}
	return errs
}

func describeLevel(t upstream.Test, profileName string) string {
	lvl, ok := t.Profiles[profileName]
	if !ok {
		return "counted toward no profile of " + profileName + " (its features are not all in it)"
	}
	return string(lvl) + " in " + profileName
}
