package e2e

import (
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/upstream"
)

// Implementations under test (--implementation).
const (
	// ImplGammaproof is ours, installed by the suite.
	ImplGammaproof = "gammaproof"
	// ImplExisting is the cluster's own mesh, whatever it is.
	ImplExisting = "existing"
)

// Options are the suite's flags, beside e2e-framework's own (--labels,
// --feature, --kubeconfig, --context, …).
type Options struct {
	Env               string
	Implementation    string
	GrantPolicy       string
	SupportedFeatures string
	ExemptFeatures    string
	Alpha, Beta       float64
	Tolerance         float64
	Budget            int
	Convergence       time.Duration
	ScenarioDir       string
	ReportDir         string
	KindConfig        string
	KeepCluster       bool
	Concurrency       int
	// ImageRegistry, when set, is where the cluster pulls gammaproof's
	// images from (pushed with `gammaproof images push`): scenario images
	// gammaproof/* become ImageRegistry/gammaproof/*, and gammaproof is
	// installed from it.
	ImageRegistry string
	// Metadata of the implementation for the reports (upstream's
	// ConformanceReport fields); empty ones keep the defaults.
	Organization, Project, URL, Version string
	// Contact is comma-separated.
	Contact string
	// Mode is the upstream report mode; "" derives it from the grant
	// policy (default or strict-grants).
	Mode string
}

// RegisterFlags defines the suite's flags on fs.
func RegisterFlags(fs *flag.FlagSet) *Options {
	o := &Options{}
	fs.StringVar(&o.Env, "env", report.EnvLocal, "cluster: local (no Docker), kind (Docker or Podman) or existing (--kubeconfig)")
	fs.StringVar(&o.Implementation, "implementation", ImplGammaproof, "implementation under test: gammaproof (installed by the suite) or existing (the cluster's own mesh)")
	fs.StringVar(&o.GrantPolicy, "grant-policy", string(grantpolicy.Spec), "ReferenceGrant policy: spec or strict (for --implementation=existing: the policy it follows, or \"\" if unknown)")
	fs.StringVar(&o.SupportedFeatures, "supported-features", "", "comma-separated features the implementation supports; scenarios needing others are skipped (default: all)")
	fs.StringVar(&o.ExemptFeatures, "exempt-features", "", "comma-separated features to skip")
	fs.Float64Var(&o.Alpha, "alpha", stats.DefaultAlpha, "false-fail rate: the chance to fail a correct implementation")
	fs.Float64Var(&o.Beta, "beta", stats.DefaultBeta, "miss rate: the chance to pass a split off by at least the tolerance")
	fs.Float64Var(&o.Tolerance, "tolerance", stats.DefaultDelta, "tolerance of a split, an absolute share (0.05 = 5 points)")
	fs.IntVar(&o.Budget, "budget", stats.DefaultBudget, "most requests one sequential test may use")
	fs.DurationVar(&o.Convergence, "convergence", 45*time.Second, "how long a failing check is retried while routes converge")
	fs.StringVar(&o.ScenarioDir, "scenarios", "", "directory of scenario folders to run instead of the built-in ones (default: the scenarios built into this program, those of the checkout's scenarios/)")
	fs.StringVar(&o.ReportDir, "report-dir", "", "where results.json and the reports go (default: reports/latest/ of the gammaproof checkout, else of the working directory)")
	fs.StringVar(&o.KindConfig, "kind-config", "", "kind cluster config for --env=kind (default: kind-configs/default.yaml of the checkout)")
	fs.BoolVar(&o.KeepCluster, "keep-cluster", false, "leave a cluster the suite created running")
	fs.IntVar(&o.Concurrency, "scenario-concurrency", 0, "how many scenarios run at once (they use disjoint namespaces); 0: all, 1: one after another")
	fs.StringVar(&o.ImageRegistry, "image-registry", "", "registry the cluster pulls gammaproof's images from, e.g. 127.0.0.1:5000 (push them with `gammaproof images push`); default: images loaded without a registry (local cluster, kind)")
	fs.StringVar(&o.Organization, "organization", "", "organization of the implementation, for the reports (default: gammaproof's, or \"unknown\" for existing)")
	fs.StringVar(&o.Project, "project", "", "project of the implementation, for the reports; also its display name")
	fs.StringVar(&o.URL, "url", "", "URL of the implementation, for the reports")
	fs.StringVar(&o.Version, "version", "", "version of the implementation, for the reports")
	fs.StringVar(&o.Contact, "contact", "", "comma-separated contacts of the implementation, for the reports (e.g. @org/maintainers)")
	fs.StringVar(&o.Mode, "mode", "", "upstream report mode (default: default, or strict-grants for --grant-policy=strict)")
	return o
}

// modePattern is what a mode may look like: it is part of a file name.
var modePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate checks the options and says what to change.
func (o Options) Validate() error {
	if !slices.Contains([]string{report.EnvLocal, report.EnvKind, report.EnvExisting}, o.Env) {
		return fmt.Errorf("--env=%q: use %s, %s or %s", o.Env, report.EnvLocal, report.EnvKind, report.EnvExisting)
	}
	if !slices.Contains([]string{ImplGammaproof, ImplExisting}, o.Implementation) {
		return fmt.Errorf("--implementation=%q: use %s or %s", o.Implementation, ImplGammaproof, ImplExisting)
	}
	// gammaproof runs with a policy; an existing implementation's may be
	// unknown ("").
	if !grantpolicy.ValidOrEmpty(o.GrantPolicy) || o.Implementation == ImplGammaproof && o.GrantPolicy == "" {
		return fmt.Errorf("--grant-policy=%q: use %s or %s", o.GrantPolicy, grantpolicy.Spec, grantpolicy.Strict)
	}
	if o.Concurrency < 0 {
		return fmt.Errorf("--scenario-concurrency=%d: use 0 (all at once) or more", o.Concurrency)
	}
	if o.Mode != "" && !modePattern.MatchString(o.Mode) {
		return fmt.Errorf("--mode=%q: use lower-case letters, digits and dashes (e.g. default)", o.Mode)
	}
	for _, fl := range []struct{ name, list string }{{"--supported-features", o.SupportedFeatures}, {"--exempt-features", o.ExemptFeatures}} {
		for _, f := range upstream.SplitList(fl.list) {
			if !knownFeature(f) {
				return fmt.Errorf("%s: %q is neither an upstream feature name (sigs.k8s.io/gateway-api/pkg/features: Mesh, HTTPRoute, MeshConsumerRoute, …; `gammaproof verify --list` shows the ones the scenarios need) nor one of gammaproof's (%s…)", fl.name, f, scenario.OwnFeaturePrefix)
			}
		}
	}
	if err := o.params().Validate(); err != nil {
		return fmt.Errorf("--alpha/--beta/--tolerance/--budget: %w", err)
	}
	return nil
}

// upstreamFeatures is upstream's feature vocabulary, read once.
var upstreamFeatures = sync.OnceValue(upstream.FeatureNames)

// knownFeature reports whether f is a feature name a scenario may need:
// upstream's, or one of ours ([scenario.OwnFeaturePrefix]). Any other
// name in --supported-features would silently skip the scenarios that
// need the real one.
func knownFeature(f string) bool {
	return upstreamFeatures().Known(f) || strings.HasPrefix(f, scenario.OwnFeaturePrefix)
}

// withDefaults fills the paths left empty with the checkout's. An empty
// ScenarioDir stays empty: the built-in scenarios ([Options.Scenarios]).
func (o Options) withDefaults() Options {
	if o.ReportDir == "" {
		o.ReportDir = filepath.Join(repo.Root(), "reports", "latest")
	}
	if o.KindConfig == "" {
		o.KindConfig = filepath.Join(repo.Root(), "kind-configs", "default.yaml")
	}
	return o
}

// Scenarios loads the scenarios of the run: those of ScenarioDir, or the
// ones built into the program when it is empty.
func (o Options) Scenarios() ([]*scenario.Scenario, error) {
	return scenario.LoadAll(o.ScenarioDir)
}

func (o Options) params() stats.Params {
	return stats.Params{Alpha: o.Alpha, Beta: o.Beta, Delta: o.Tolerance, Budget: o.Budget}
}

// implementation describes the implementation under test for the reports:
// gammaproof's own description, or for an existing one "unknown" fields,
// either overridden by the metadata flags.
func (o Options) implementation() report.Implementation {
	impl := report.Implementation{Name: ImplExisting, Organization: "unknown", Project: "unknown", URL: "unknown", Version: "unknown"}
	if o.Implementation == ImplGammaproof {
		impl = Gammaproof()
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&impl.Organization, o.Organization}, {&impl.Project, o.Project}, {&impl.URL, o.URL}, {&impl.Version, o.Version}, {&impl.Name, o.Project}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if c := upstream.SplitList(o.Contact); len(c) > 0 {
		impl.Contact = c
	}
	return impl
}

// Gammaproof describes our implementation for reports.
func Gammaproof() report.Implementation {
	return report.Implementation{
		Name:         "gammaproof",
		Organization: "gammaproof",
		Project:      "gammaproof",
		URL:          "https://github.com/gammaproof/gammaproof",
		Version:      "v0.1.0",
		Contact:      []string{"@gammaproof/maintainers"},
	}
}
