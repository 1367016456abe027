package scenario

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Scenario
		want []string // substrings of the errors; none: valid
	}{
		{"core test, core", Scenario{Profile: "MESH-HTTP", Upstream: "MeshHTTPRouteWeight", Core: true, Features: []string{"Mesh", "HTTPRoute"}}, nil},
		{"extended test", Scenario{Profile: "MESH-HTTP", Upstream: "MeshHTTPRouteRewritePath", Features: []string{"Mesh", "HTTPRoute", "MeshHTTPRouteRewritePath"}}, nil},
		{"test of no profile", Scenario{Profile: "MESH-HTTP", Upstream: "MeshPorts", Features: []string{"Mesh", "HTTPRoute", "HTTPRouteParentRefPort", "HTTPRouteResponseHeaderModification"}}, nil},
		{"our own feature", Scenario{Profile: "gammaproof", Features: []string{"Mesh", "GammaproofStrictGrants"}}, nil},
		{"core without a test, core features", Scenario{Profile: "MESH-GRPC", Core: true, Features: []string{"Mesh", "GRPCRoute"}}, nil},
		{"not upstream's weight feature", Scenario{Profile: "MESH-HTTP", Features: []string{"Mesh", "MeshHTTPRouteWeight"}},
			[]string{`features[1]: "MeshHTTPRouteWeight" is neither`}},
		{"not upstream's port feature", Scenario{Profile: "MESH-HTTP", Features: []string{"MeshHTTPRouteParentRefPort"}},
			[]string{`features[0]: "MeshHTTPRouteParentRefPort"`}},
		{"a Gateway feature", Scenario{Profile: "gammaproof", Features: []string{"ReferenceGrant"}}, []string{`"ReferenceGrant"`}},
		{"unknown test", Scenario{Profile: "MESH-HTTP", Upstream: "MeshNoSuchTest"}, []string{`upstream: "MeshNoSuchTest"`}},
		{"lacks the test's feature", Scenario{Profile: "MESH-HTTP", Upstream: "MeshConsumerRoute", Features: []string{"Mesh", "HTTPRoute", "HTTPRouteResponseHeaderModification"}},
			[]string{"features: lacks MeshConsumerRoute"}},
		{"core, but the test is extended", Scenario{Profile: "MESH-HTTP", Upstream: "MeshHTTPRouteRewritePath", Core: true, Features: []string{"Mesh", "HTTPRoute", "MeshHTTPRouteRewritePath"}},
			[]string{"core: true, but upstream's MeshHTTPRouteRewritePath is extended in MESH-HTTP"}},
		{"extended, but the test is core", Scenario{Profile: "MESH-HTTP", Upstream: "MeshHTTPRouteWeight", Features: []string{"Mesh", "HTTPRoute"}},
			[]string{"core: false, but upstream's MeshHTTPRouteWeight is core in MESH-HTTP"}},
		{"consumer route is in no profile", Scenario{Profile: "MESH-HTTP", Upstream: "MeshConsumerRoute", Core: true, Features: []string{"Mesh", "MeshConsumerRoute", "HTTPRoute", "HTTPRouteResponseHeaderModification"}},
			[]string{"counted toward no profile"}},
		{"wrong profile", Scenario{Profile: "MESH-GRPC", Upstream: "MeshTrafficSplit", Core: true, Features: []string{"Mesh", "HTTPRoute"}},
			[]string{"profile: MESH-GRPC, but upstream's MeshTrafficSplit counts toward"}},
		{"our profile names an upstream test", Scenario{Profile: "gammaproof", Upstream: "MeshBasic", Features: []string{"Mesh"}},
			[]string{"profile: gammaproof is for our own behaviours"}},
		{"core without a test, extended feature", Scenario{Profile: "MESH-HTTP", Core: true, Features: []string{"Mesh", "MeshConsumerRoute"}},
			[]string{"feature MeshConsumerRoute is not core"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := validateUpstream(&tc.s)
			got := errors.Join(errs...)
			if len(tc.want) == 0 {
				if got != nil {
					t.Fatalf("validateUpstream: %v, want no error", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("validateUpstream: no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("validateUpstream: %v\nwant an error containing %q", got, w)
				}
			}
		})
	}
}
