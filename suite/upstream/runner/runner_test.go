package runner

import (
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
)

func validOptions(t *testing.T) Options {
	return Options{
		// Nothing is contacted: the clients are lazy.
		RestConfig: &rest.Config{Host: "https://127.0.0.1:1"},
		Implementation: confv1.Implementation{
			Organization: "gammaproof", Project: "gammaproof", URL: "https://example.com/gammaproof",
			Version: "v0.0.0", Contact: []string{"@gammaproof"},
		},
		SupportedFeatures: []string{"MeshConsumerRoute", "HTTPRouteParentRefPort"},
		ReportPath:        filepath.Join(t.TempDir(), "report.yaml"),
	}
}

func TestConformanceOptions(t *testing.T) {
	co, err := validOptions(t).conformanceOptions()
	if err != nil {
		t.Fatal(err)
	}
	if co.GatewayClassName != "" {
		t.Errorf("GatewayClassName = %q, want none", co.GatewayClassName)
	}
	if want := []suite.ConformanceProfileName{"MESH-HTTP", "MESH-GRPC"}; !slices.Equal(co.ConformanceProfiles, want) {
		t.Errorf("ConformanceProfiles = %v, want %v", co.ConformanceProfiles, want)
	}
	if want := []features.FeatureName{"MeshConsumerRoute", "HTTPRouteParentRefPort"}; !slices.Equal(co.SupportedFeatures, want) {
		t.Errorf("SupportedFeatures = %v, want %v", co.SupportedFeatures, want)
	}
	if co.Mode != "default" || !co.CleanupBaseResources || !co.CleanupTestResources {
		t.Errorf("Mode %q, cleanup %v/%v: want default and cleanup", co.Mode, co.CleanupBaseResources, co.CleanupTestResources)
	}
	if !filepath.IsAbs(co.ReportOutputPath) || co.Implementation.Project != "gammaproof" {
		t.Errorf("report %q, implementation %+v", co.ReportOutputPath, co.Implementation)
	}
	if co.Client == nil || co.Clientset == nil || co.RestConfig == nil || co.TimeoutConfig.DefaultTestTimeout == 0 {
		t.Errorf("clients or timeouts missing: %+v", co)
	}
	if !co.Client.Scheme().Recognizes(gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute")) {
		t.Error("the client's scheme lacks the Gateway API types")
	}
}

func TestConformanceOptionsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*Options)
		errHas string
	}{
		{"no contact", func(o *Options) { o.Implementation.Contact = nil }, "contact"},
		{"no report path", func(o *Options) { o.ReportPath = "" }, "ReportPath"},
		{"gateway profile", func(o *Options) { o.Profiles = []string{"GATEWAY-HTTP"} }, `"GATEWAY-HTTP"`},
		{"our own profile", func(o *Options) { o.Profiles = []string{"gammaproof"} }, `"gammaproof"`},
		{"not an upstream feature", func(o *Options) { o.SupportedFeatures = []string{"MeshHTTPRouteWeight"} }, `"MeshHTTPRouteWeight"`},
		{"a gateway feature", func(o *Options) { o.SupportedFeatures = []string{"Gateway"} }, `"Gateway"`},
		{"unknown exempt feature", func(o *Options) { o.ExemptFeatures = []string{"MeshHTTPRouteParentRefPort"} }, "ExemptFeatures"},
		{"unknown test", func(o *Options) { o.RunTest = "MeshNoSuchTest" }, `"MeshNoSuchTest"`},
		{"gateway test", func(o *Options) { o.RunTest = "HTTPRouteSimpleSameNamespace" }, "RunTest"},
		{"no cluster", func(o *Options) {
			o.RestConfig = nil
			o.Kubeconfig = filepath.Join(t.TempDir(), "missing")
		}, "load kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions(t)
			tc.edit(&o)
			_, err := o.conformanceOptions()
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("conformanceOptions: %v, want an error containing %q", err, tc.errHas)
			}
		})
	}
}

// TestUpstreamFlags pins the side effect the package doc warns of: upstream's
// root conformance package defines these flags on flag.CommandLine.
func TestUpstreamFlags(t *testing.T) {
	for _, name := range []string{"supported-features", "exempt-features", "conformance-profiles", "report-output", "organization", "version"} {
		if flag.Lookup(name) == nil {
			t.Errorf("flag --%s is not defined: upstream changed, update the package doc", name)
		}
	}
}
