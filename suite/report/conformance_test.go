package report

import (
	"slices"
	"testing"
)

// TestExtendedFeatures pins upstream's rule for a profile's extended
// supportedFeatures and unsupportedFeatures: the profile's extended
// features split by the run's supported ones (all but the exempt ones when
// the run names none).
func TestExtendedFeatures(t *testing.T) {
	meshHTTP := []string{
		"MeshClusterIPMatching", "MeshConsumerRoute", "MeshHTTPRouteBackendRequestHeaderModification",
		"MeshHTTPRouteNamedRouteRule", "MeshHTTPRouteQueryParamMatching", "MeshHTTPRouteRedirectPath",
		"MeshHTTPRouteRedirectPort", "MeshHTTPRouteRewritePath", "MeshHTTPRouteSchemeRedirect",
	}
	for _, tc := range []struct {
		name             string
		run              Run
		profile          string
		supported, unsup []string
	}{
		{"named features", Run{SupportedFeatures: []string{"Mesh", "HTTPRoute", "MeshConsumerRoute", "MeshHTTPRouteRewritePath", "HTTPRouteParentRefPort"}}, "MESH-HTTP",
			[]string{"MeshConsumerRoute", "MeshHTTPRouteRewritePath"},
			without(meshHTTP, "MeshConsumerRoute", "MeshHTTPRouteRewritePath")},
		{"default: all", Run{}, "MESH-HTTP", meshHTTP, nil},
		{"all but the exempt", Run{UnsupportedFeatures: []string{"MeshConsumerRoute"}}, "MESH-HTTP",
			without(meshHTTP, "MeshConsumerRoute"), []string{"MeshConsumerRoute"}},
		{"named and exempt", Run{SupportedFeatures: []string{"MeshConsumerRoute"}, UnsupportedFeatures: []string{"MeshConsumerRoute"}}, "MESH-HTTP",
			nil, meshHTTP},
		{"not a profile", Run{}, "gammaproof", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sup, unsup := extendedFeatures(tc.run, tc.profile)
			if !slices.Equal(sup, tc.supported) || !slices.Equal(unsup, tc.unsup) {
				t.Errorf("extendedFeatures = %v, %v; want %v, %v", sup, unsup, tc.supported, tc.unsup)
			}
		})
	}
}

func without(all []string, drop ...string) []string {
	var out []string
	for _, f := range all {
		if !slices.Contains(drop, f) {
			out = append(out, f)
		}
	}
	return out
}
