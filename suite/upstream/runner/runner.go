// Package runner runs upstream's own mesh conformance suite,
// sigs.k8s.io/gateway-api/conformance v1.6.3, unchanged: upstream's
// ConformanceTestSuite with upstream's tests (tests.ConformanceTests, whose
// mesh tests are conformance/tests/mesh), upstream's embedded manifests
// (conformance.Manifests, with mesh/manifests.yaml) and upstream's report,
// through upstream's own entry point conformance.RunConformanceWithOptions.
//
// Importing this package imports upstream's root conformance package, which
// registers upstream's flags (--supported-features, --exempt-features,
// --debug, --mode, --version, --url and more) on flag.CommandLine at init: a
// binary that defines flags of those names on flag.CommandLine panics at
// start. Such a binary runs the suite in another process, or defines its
// flags on its own flag.FlagSet.
//
// The mesh manifests run registry.k8s.io/gateway-api/echo-advanced (Istio's
// echo app: `server`, with `client` on PATH and /cert.crt, /cert.key), so
// the cluster must run that image or resolve it locally
// (hack/build-istio-echo.sh builds it for the local cluster).
package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/upstream"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Options says what upstream's suite runs against and what it reports.
type Options struct {
	// RestConfig reaches the cluster; if nil, Kubeconfig is read.
	RestConfig *rest.Config
	// Kubeconfig is the kubeconfig file used when RestConfig is nil.
	Kubeconfig string
	// SupportedFeatures are the upstream feature names the implementation
	// supports (upstream's --supported-features). The profiles' core
	// features are always on. Each must be a name upstream defines
	// ([upstream.FeatureNames]); Gateway features are refused, as there is
	// no GatewayClass.
	SupportedFeatures []string
	// ExemptFeatures are left out even if supported (--exempt-features).
	ExemptFeatures []string
	// Profiles are the conformance profiles to report (default:
	// MESH-HTTP and MESH-GRPC); only mesh profiles are accepted.
	Profiles []string
	// Implementation is upstream's implementation metadata (organization,
	// project, url, version, contact); all are required, as upstream
	// requires them for a report.
	Implementation confv1.Implementation
	// Mode is the implementation's operating mode (default "default"),
	// part of upstream's report file name convention.
	Mode string
	// ReportPath is where upstream writes its report (YAML); required.
	ReportPath string
	// SkipTests lists test short names not to run (--skip-tests).
	SkipTests []string
	// RunTest runs only the test with this short name (--run-test).
	RunTest string
	// AllowCRDsMismatch lets the suite run when the cluster's Gateway API
	// CRDs are not v1.6.3 standard or experimental (--allow-crds-mismatch).
	AllowCRDsMismatch bool
	// KeepResources leaves upstream's namespaces and test resources in the
	// cluster after the run, for debugging.
	KeepResources bool
	// Debug makes upstream's suite log its requests.
	Debug bool
}

// Result is what one run of upstream's suite produced.
type Result struct {
	// Report is upstream's ConformanceReport, as written to ReportPath.
	Report *confv1.ConformanceReport
	// Tests is each test's outcome as upstream's suite recorded it, by
	// short name: PASS, FAIL or SKIP (not supported, or skipped). Unlike
	// the report it includes the tests no profile counts, such as
	// MeshConsumerRoute, and names the passed ones.
	Tests map[string]verdict.Verdict
	// Passed is false when any test, or the suite's setup, failed.
	Passed bool
}

// Run runs upstream's conformance suite against the cluster in a subtest of
// t named "upstream" and returns its report and per-test verdicts. Test
// failures mark t failed (they are upstream's failures) and show in the
// Result; Run returns an error only when the options are wrong or upstream's
// suite wrote no report (its setup failed; t's log says why).
func Run(t *testing.T, opts Options) (*Result, error) {
	co, err := opts.conformanceOptions()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(co.ReportOutputPath), 0o755); err != nil {
		return nil, fmt.Errorf("create report directory: %w", err)
	}
	// A stale report must not pass for this run's.
	if err := os.Remove(co.ReportOutputPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove old report: %w", err)
	}
	var mu sync.Mutex
	tests := map[string]verdict.Verdict{}
	co.Hook = func(st *testing.T, ct suite.ConformanceTest, _ *suite.ConformanceTestSuite) {
		v := verdict.Pass
		switch {
		case st.Failed():
			v = verdict.Fail
		case st.Skipped():
			v = verdict.Skip
		}
		mu.Lock()
		tests[ct.ShortName] = v
		mu.Unlock()
	}
	setLogger()
	passed := t.Run("upstream", func(st *testing.T) {
		conformance.RunConformanceWithOptions(st, co)
	})
	// The subtest's cleanups, which write the report, have run by now.
	report, err := upstream.ReadReport(co.ReportOutputPath)
	if err != nil {
		return nil, fmt.Errorf("run upstream's conformance suite: no report (see the log of %s/upstream): %w", t.Name(), err)
	}
	mu.Lock()
	defer mu.Unlock()
	return &Result{Report: report, Tests: tests, Passed: passed}, nil
}

// conformanceOptions checks the options and builds upstream's, with the
// clients upstream's own DefaultOptions would build.
func (o Options) conformanceOptions() (suite.ConformanceOptions, error) {
	if err := o.Implementation.Validate(); err != nil {
		return suite.ConformanceOptions{}, fmt.Errorf("check implementation metadata: %w", err)
	}
	if o.ReportPath == "" {
		return suite.ConformanceOptions{}, errors.New("check options: ReportPath is empty")
	}
	profiles, err := meshProfiles(o.Profiles)
	if err != nil {
		return suite.ConformanceOptions{}, err
	}
	supported, err := featureNames("SupportedFeatures", o.SupportedFeatures)
	if err != nil {
		return suite.ConformanceOptions{}, err
	}
	exempt, err := featureNames("ExemptFeatures", o.ExemptFeatures)
	if err != nil {
		return suite.ConformanceOptions{}, err
	}
	if o.RunTest != "" {
		if _, ok := upstream.MeshTest(o.RunTest); !ok {
			return suite.ConformanceOptions{}, fmt.Errorf("check RunTest: upstream has no mesh test %q", o.RunTest)
		}
	}
	cfg := o.RestConfig
	if cfg == nil {
		if cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig); err != nil {
			return suite.ConformanceOptions{}, fmt.Errorf("load kubeconfig %q: %w", o.Kubeconfig, err)
		}
	}
	cfg = rest.CopyConfig(cfg) // upstream sets a user agent per test
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return suite.ConformanceOptions{}, fmt.Errorf("create client: %w", err)
	}
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		return suite.ConformanceOptions{}, fmt.Errorf("create clientset: %w", err)
	}
	// As upstream's DefaultOptions does: the API types go into the
	// client's scheme.
	for _, install := range []func() error{
		func() error { return v1alpha3.Install(c.Scheme()) },
		func() error { return v1alpha2.Install(c.Scheme()) },
		func() error { return xv1alpha1.Install(c.Scheme()) },
		func() error { return gatewayv1.Install(c.Scheme()) },
		func() error { return apiextensionsv1.AddToScheme(c.Scheme()) },
	} {
		if err := install(); err != nil {
			return suite.ConformanceOptions{}, fmt.Errorf("register API types: %w", err)
		}
	}
	mode := o.Mode
	if mode == "" {
		mode = "default"
	}
	report, err := filepath.Abs(o.ReportPath)
	if err != nil {
		return suite.ConformanceOptions{}, fmt.Errorf("resolve report path: %w", err)
	}
	return suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     "", // mesh only: no GatewayClass
			Debug:                o.Debug,
			ReportOutputPath:     report,
			CleanupBaseResources: !o.KeepResources,
			CleanupTestResources: !o.KeepResources,
			SupportedFeatures:    supported,
			ExemptFeatures:       exempt,
			TimeoutConfig:        config.DefaultTimeoutConfig(),
			SkipTests:            o.SkipTests,
			RunTest:              o.RunTest,
			Mode:                 mode,
			AllowCRDsMismatch:    o.AllowCRDsMismatch,
			Implementation:       o.Implementation,
			ConformanceProfiles:  profiles,
		},
		Client:     c,
		Clientset:  cs,
		RestConfig: cfg,
	}, nil
}

// meshProfiles checks the profile names; none means both mesh profiles.
func meshProfiles(names []string) ([]suite.ConformanceProfileName, error) {
	if len(names) == 0 {
		names = profile.Upstream
	}
	var out []suite.ConformanceProfileName
	for _, n := range names {
		if !slices.Contains(profile.Upstream, n) {
			return nil, fmt.Errorf("check Profiles: %q is not a mesh profile (%v)", n, profile.Upstream)
		}
		out = append(out, suite.ConformanceProfileName(n))
	}
	return out, nil
}

// featureNames checks that upstream defines each mesh feature name.
func featureNames(field string, names []string) ([]features.FeatureName, error) {
	known := upstream.FeatureNames()
	var out []features.FeatureName
	for _, n := range names {
		if !known.Known(n) {
			return nil, fmt.Errorf("check %s: upstream defines no mesh feature %q", field, n)
		}
		out = append(out, features.FeatureName(n))
	}
	return out, nil
}

var loggerOnce sync.Once

// setLogger sends controller-runtime's log, which upstream's clients use,
// to slog, as upstream's DefaultOptions sends it to zap.
func setLogger() {
	loggerOnce.Do(func() { ctrllog.SetLogger(logr.FromSlogHandler(slog.Default().Handler())) })
}
