package upstream

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

func TestFeatureNames(t *testing.T) {
	f := FeatureNames()
	for _, tc := range []struct {
		name  string
		known bool
	}{
		{"Mesh", true},
		{"HTTPRoute", true},
		{"GRPCRoute", true},
		{"MeshConsumerRoute", true},
		{"MeshHTTPRouteRewritePath", true},
		{"HTTPRouteParentRefPort", true},
		{"HTTPRouteResponseHeaderModification", true},
		// Names upstream does not define, used by mistake before.
		{"MeshHTTPRouteWeight", false},
		{"MeshHTTPRouteParentRefPort", false},
		// Gateway features are not a mesh's to claim.
		{"Gateway", false},
		{"", false},
	} {
		if got := f.Known(tc.name); got != tc.known {
			t.Errorf("Known(%q) = %v, want %v", tc.name, got, tc.known)
		}
	}
	for _, tc := range []struct {
		profile, name string
		core, ext     bool
	}{
		{profile.MeshHTTP, "Mesh", true, false},
		{profile.MeshHTTP, "HTTPRoute", true, false},
		{profile.MeshHTTP, "GRPCRoute", false, false},
		{profile.MeshHTTP, "MeshConsumerRoute", false, true},
		{profile.MeshHTTP, "MeshHTTPRouteRewritePath", false, true},
		{profile.MeshHTTP, "HTTPRouteParentRefPort", false, false},
		{profile.MeshGRPC, "Mesh", true, false},
		{profile.MeshGRPC, "GRPCRoute", true, false},
		{profile.MeshGRPC, "HTTPRoute", false, false},
		{profile.Gammaproof, "Mesh", false, false},
	} {
		if got := f.IsCore(tc.profile, tc.name); got != tc.core {
			t.Errorf("IsCore(%s, %s) = %v, want %v", tc.profile, tc.name, got, tc.core)
		}
		if got := f.Extended[tc.profile][tc.name]; got != tc.ext {
			t.Errorf("Extended[%s][%s] = %v, want %v", tc.profile, tc.name, got, tc.ext)
		}
	}
	sorted := f.Sorted()
	if len(sorted) != len(f.Names) || !slices.IsSorted(sorted) {
		t.Errorf("Sorted() = %v: want all %d names in order", sorted, len(f.Names))
	}
	for p, core := range f.Core {
		for n := range core {
			if !f.Known(n) {
				t.Errorf("core feature %s of %s is not in Names", n, p)
			}
		}
	}
}

func TestMeshTests(t *testing.T) {
	all := MeshTests()
	if len(all) != 22 {
		t.Errorf("MeshTests() has %d tests, want upstream v1.6.3's 22: %v", len(all), all)
	}
	names := map[string]bool{}
	for _, mt := range all {
		if names[mt.ShortName] {
			t.Errorf("%s listed twice", mt.ShortName)
		}
		names[mt.ShortName] = true
		if !slices.Contains(mt.Features, "Mesh") {
			t.Errorf("%s does not need Mesh: %v", mt.ShortName, mt.Features)
		}
	}
	for _, tc := range []struct {
		name     string
		profiles map[string]Level
	}{
		{"MeshBasic", map[string]Level{profile.MeshHTTP: Core, profile.MeshGRPC: Core}},
		{"MeshTrafficSplit", map[string]Level{profile.MeshHTTP: Core}},
		{"MeshHTTPRouteWeight", map[string]Level{profile.MeshHTTP: Core}},
		{"MeshHTTPRouteRedirectHostAndStatus", map[string]Level{profile.MeshHTTP: Core}},
		{"MeshHTTPRouteRequestHeaderModifier", map[string]Level{profile.MeshHTTP: Core}},
		{"MeshHTTPRouteRewritePath", map[string]Level{profile.MeshHTTP: Extended}},
		{"MeshHTTPRouteBackendRequestHeaderModifier", map[string]Level{profile.MeshHTTP: Extended}},
		{"MeshGRPCRouteWeight", map[string]Level{profile.MeshGRPC: Core}},
		// These need an HTTPRoute feature outside both mesh profiles
		// (HTTPRouteResponseHeaderModification, HTTPRouteParentRefPort, a
		// redirect status code): they run, but no profile counts them.
		{"MeshConsumerRoute", map[string]Level{}},
		{"MeshFrontend", map[string]Level{}},
		{"MeshPorts", map[string]Level{}},
		{"MeshHTTPRoute303Redirect", map[string]Level{}},
	} {
		mt, ok := MeshTest(tc.name)
		if !ok {
			t.Errorf("MeshTest(%q): not found", tc.name)
			continue
		}
		if !maps.Equal(mt.Profiles, tc.profiles) {
			t.Errorf("%s counts toward %v, want %v", tc.name, mt.Profiles, tc.profiles)
		}
	}
	if mt, ok := MeshTest("HTTPRouteSimpleSameNamespace"); ok {
		t.Errorf("MeshTest found the Gateway test %v", mt)
	}
	if mt, _ := MeshTest("MeshConsumerRoute"); !slices.Equal(mt.Features, []string{"Mesh", "MeshConsumerRoute", "HTTPRoute", "HTTPRouteResponseHeaderModification"}) {
		t.Errorf("MeshConsumerRoute needs %v", mt.Features)
	}
}

func TestVerdicts(t *testing.T) {
	r, err := ReadReport(filepath.Join("testdata", "report.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verdicts(r)
	if err != nil {
		t.Fatalf("Verdicts: %v", err)
	}
	want := map[string]verdict.Verdict{
		// MESH-GRPC core; MeshBasic is in both profiles.
		"MeshBasic":           verdict.Pass,
		"MeshGRPCRouteWeight": verdict.Pass,
		// MESH-HTTP core.
		"MeshHTTPRouteMatching":              verdict.Pass,
		"MeshHTTPRouteRedirectHostAndStatus": verdict.Fail,
		"MeshHTTPRouteRequestHeaderModifier": verdict.Pass,
		"MeshHTTPRouteSimpleSameNamespace":   verdict.Pass,
		"MeshHTTPRouteWeight":                verdict.Pass,
		"MeshTrafficSplit":                   verdict.Skip,
		// MESH-HTTP extended: two supported, the rest not.
		"MeshHTTPRouteQueryParamMatching":           verdict.Pass,
		"MeshHTTPRouteRewritePath":                  verdict.Fail,
		"MeshHTTPRouteNamedRule":                    verdict.Skip,
		"MeshHTTPRouteRedirectPath":                 verdict.Skip,
		"MeshHTTPRouteRedirectPort":                 verdict.Skip,
		"MeshHTTPRouteSchemeRedirect":               verdict.Skip,
		"MeshHTTPRouteBackendRequestHeaderModifier": verdict.Skip,
	}
	if !maps.Equal(got, want) {
		t.Errorf("Verdicts:\n got %v\nwant %v", got, want)
	}
	if _, ok := got["MeshConsumerRoute"]; ok {
		t.Error("MeshConsumerRoute has a verdict, but no mesh profile counts it")
	}
}

func TestVerdictsRejectsInconsistentReports(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*confv1.ConformanceReport)
		errHas string
	}{
		{"more core passes than supported tests", func(r *confv1.ConformanceReport) {
			r.ProfileReports[1].Core.Passed = 6
		}, "counts 6 passed"},
		{"a supported extended test neither passed nor listed", func(r *confv1.ConformanceReport) {
			r.ProfileReports[1].Extended.SupportedFeatures = append(r.ProfileReports[1].Extended.SupportedFeatures, "MeshHTTPRouteRedirectPort")
		}, "supported features give 2"},
		{"failed count without names", func(r *confv1.ConformanceReport) {
			r.ProfileReports[1].Core.FailedTests = nil
			r.ProfileReports[1].Core.Passed = 6
		}, "counts 1 failed tests but lists 0"},
		{"unknown profile", func(r *confv1.ConformanceReport) {
			r.ProfileReports[0].Name = "MESH-TCP"
		}, `"MESH-TCP"`},
		{"provisional success nobody ran", func(r *confv1.ConformanceReport) {
			r.SucceededProvisionalTests = []string{"MeshTrafficSplit"}
		}, "provisional test MeshTrafficSplit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadReport(filepath.Join("testdata", "report.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(r)
			got, err := Verdicts(r)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("Verdicts = %v, %v; want an error containing %q", got, err, tc.errHas)
			}
		})
	}
}

func TestReadReport(t *testing.T) {
	r, err := ReadReport(filepath.Join("testdata", "report.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Implementation.Project != "mesh" || len(r.ProfileReports) != 2 || r.ProfileReports[1].Core.Passed != 5 {
		t.Errorf("ReadReport read %+v", r)
	}
	if _, err := ReadReport(filepath.Join("testdata", "missing.yaml")); err == nil {
		t.Error("ReadReport of a missing file: no error")
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "profiles:\n- name: MESH-HTTP\n  core:\n    statistics:\n      Passd: 1\n")
	if _, err := ReadReport(bad); err == nil || !strings.Contains(err.Error(), "Passd") {
		t.Errorf("ReadReport of a misspelt field: %v, want an error naming it", err)
	}
}
