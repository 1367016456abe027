package upstream

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/gammaproof/gammaproof/suite/profile"
)

// Features is upstream's vocabulary of mesh feature names: every name a
// mesh implementation can be asked about, and which of them each mesh
// profile counts as core (always on when the profile runs) or extended.
type Features struct {
	// Names holds every mesh, HTTPRoute and GRPCRoute feature name of
	// sigs.k8s.io/gateway-api/pkg/features, core and extended.
	Names map[string]bool
	// Core maps a profile ([profile.MeshHTTP], [profile.MeshGRPC]) to its
	// core feature names, as upstream's conformance profile defines them.
	Core map[string]map[string]bool
	// Extended maps a profile to its extended feature names.
	Extended map[string]map[string]bool
}

// FeatureNames returns upstream's mesh feature vocabulary, read from
// upstream's packages (pkg/features and the conformance profiles), so it
// follows the pinned version.
func FeatureNames() Features {
	f := Features{
		Names: names(features.SetsToNamesSet(
			features.MeshCoreFeatures, features.MeshExtendedFeatures,
			features.HTTPRouteCoreFeatures, features.HTTPRouteExtendedFeatures,
			features.GRPCRouteCoreFeatures, features.GRPCRouteExtendedFeatures,
		)),
		Core:     map[string]map[string]bool{},
		Extended: map[string]map[string]bool{},
	}
	for _, p := range meshProfiles() {
		f.Core[string(p.Name)] = names(p.CoreFeatures)
		f.Extended[string(p.Name)] = names(p.ExtendedFeatures)
	}
	return f
}

// Known reports whether upstream defines the feature name.
func (f Features) Known(name string) bool { return f.Names[name] }

// IsCore reports whether name is a core feature of the profile.
func (f Features) IsCore(profileName, name string) bool { return f.Core[profileName][name] }

// Sorted lists every feature name in order.
func (f Features) Sorted() []string {
	out := make([]string, 0, len(f.Names))
	for n := range f.Names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// meshProfiles returns upstream's mesh conformance profiles, in
// [profile.Upstream] order.
func meshProfiles() []suite.ConformanceProfile {
	byName := map[string]suite.ConformanceProfile{
		profile.MeshHTTP: suite.MeshHTTPConformanceProfile,
		profile.MeshGRPC: suite.MeshGRPCConformanceProfile,
	}
	out := make([]suite.ConformanceProfile, 0, len(profile.Upstream))
	for _, n := range profile.Upstream {
		out = append(out, byName[n])
	}
	return out
}

func names(s sets.Set[features.FeatureName]) map[string]bool {
	out := make(map[string]bool, s.Len())
	for n := range s {
		out[string(n)] = true
	}
	return out
}

func featureName(s string) features.FeatureName { return features.FeatureName(s) }

// GammaproofFeatures returns the upstream feature names gammaproof claims
// when upstream's suite runs against it (its --supported-features): the
// mesh profiles' core features and every extended mesh or HTTPRoute
// feature one of our scenarios checks. TestGammaproofFeaturesProven holds
// the list and the scenarios to each other.
func GammaproofFeatures() []string {
	return []string{
		"Mesh", "HTTPRoute", "GRPCRoute",
		"MeshClusterIPMatching",
		"MeshConsumerRoute",
		"MeshHTTPRouteBackendRequestHeaderModification",
		"MeshHTTPRouteNamedRouteRule",
		"MeshHTTPRouteQueryParamMatching",
		"MeshHTTPRouteRedirectPath",
		"MeshHTTPRouteRedirectPort",
		"MeshHTTPRouteRewritePath",
		"MeshHTTPRouteSchemeRedirect",
		"HTTPRoute303RedirectStatusCode",
		"HTTPRoute307RedirectStatusCode",
		"HTTPRoute308RedirectStatusCode",
		"HTTPRouteParentRefPort",
		"HTTPRouteRequestTimeout",
		"HTTPRouteResponseHeaderModification",
		"HTTPRouteRetry",
	}
}
