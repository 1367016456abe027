package e2e

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/gammaproof/gammaproof/suite/scenario"
)

// TestValidateFeatureNames: --supported-features and --exempt-features
// take upstream's feature names or ours; any other name (such as the old
// MeshHTTPRouteWeight, which upstream never defined) is an error naming
// the flag, not a silent skip.
func TestValidateFeatureNames(t *testing.T) {
	for _, tt := range []struct {
		supported, exempt string
		wantErr           string
	}{
		{"Mesh,HTTPRoute,MeshConsumerRoute", "", ""},
		{"Mesh, GRPCRoute ,HTTPRouteParentRefPort", "GammaproofStrictGrants", ""},
		{"Mesh,MeshHTTPRouteWeight", "", `--supported-features: "MeshHTTPRouteWeight"`},
		{"", "MeshHTTPRouteParentRefPort", `--exempt-features: "MeshHTTPRouteParentRefPort"`},
		{"mesh", "", `"mesh" is neither`},
	} {
		t.Run(tt.supported+"/"+tt.exempt, func(t *testing.T) {
			o := defaultOptions()
			o.SupportedFeatures, o.ExemptFeatures = tt.supported, tt.exempt
			checkValidate(t, o, tt.wantErr)
		})
	}
}

// TestSelectScenarios: Select picks scenarios by the labels the runner
// gives them (profile, scenario, each feature) and by name, as the run
// would; the built-in scenarios are the default.
func TestSelectScenarios(t *testing.T) {
	o := defaultOptions()
	all, err := o.Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || !strings.HasPrefix(all[0].Dir, scenario.BuiltinLabel) {
		t.Fatalf("default scenarios: %d, first from %q; want the built-in ones", len(all), all[0].Dir)
	}
	names := func(cfg *envconf.Config) []string {
		var out []string
		for _, s := range Select(cfg, all) {
			out = append(out, s.Name)
		}
		return out
	}
	if got := names(envconf.New()); len(got) != len(all) {
		t.Errorf("no selection picks %d of %d", len(got), len(all))
	}
	if got := names(envconf.New().WithFeatureRegex("^mesh-weight$")); !slices.Equal(got, []string{"mesh-weight"}) {
		t.Errorf("--feature ^mesh-weight$ picks %q", got)
	}
	for _, s := range Select(envconf.New().WithLabels(map[string][]string{"profile": {"MESH-GRPC"}}), all) {
		if s.Profile != "MESH-GRPC" {
			t.Errorf("--labels profile=MESH-GRPC picked %s of profile %s", s.Name, s.Profile)
		}
	}
	got := names(envconf.New().WithLabels(map[string][]string{"feature": {"MeshConsumerRoute"}}).WithSkipLabels(map[string][]string{"feature": {"GammaproofStrictGrants"}}))
	if !slices.Contains(got, "mesh-consumer-route") || slices.Contains(got, "grants-strict") || slices.Contains(got, "mesh-basic") {
		t.Errorf("feature=MeshConsumerRoute without GammaproofStrictGrants picks %q", got)
	}
}
