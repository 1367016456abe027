package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/gammaproof/gammaproof/internal/controllername"
	"github.com/gammaproof/gammaproof/internal/crds"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/check"
	"github.com/gammaproof/gammaproof/suite/env/kind"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/runner"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Implementations under test (--implementation).
const (
	// ImplGammaproof is ours, installed by the suite.
	ImplGammaproof = "gammaproof"
	// ImplExisting is the cluster's own mesh, whatever it is.
	ImplExisting = "existing"
)

// Options are the suite's flags, beside e2e-framework's own (--labels,
// --feature, --kubeconfig, …).
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
	fs.StringVar(&o.ScenarioDir, "scenarios", filepath.Join(repo.Root(), "scenarios"), "scenario folders")
	fs.StringVar(&o.ReportDir, "report-dir", filepath.Join(repo.Root(), "reports", "latest"), "where results.json and the reports go")
	fs.StringVar(&o.KindConfig, "kind-config", filepath.Join(repo.Root(), "kind-configs", "default.yaml"), "kind cluster config (--env=kind)")
	fs.BoolVar(&o.KeepCluster, "keep-cluster", false, "leave a cluster the suite created running")
	fs.IntVar(&o.Concurrency, "scenario-concurrency", 0, "how many scenarios run at once (they use disjoint namespaces); 0: all, 1: one after another")
	return o
}

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
	if err := o.params().Validate(); err != nil {
		return fmt.Errorf("--alpha/--beta/--tolerance/--budget: %w", err)
	}
	return nil
}

func (o Options) params() stats.Params {
	return stats.Params{Alpha: o.Alpha, Beta: o.Beta, Delta: o.Tolerance, Budget: o.Budget}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Suite is one run: its options, cluster and scenarios.
type Suite struct {
	opts          Options
	cfg           *envconf.Config
	scenarios     []*scenario.Scenario
	provider      support.E2EClusterProvider
	created       bool
	start         time.Time
	ready         time.Time     // cluster up and implementation installed
	scenariosTook time.Duration // from ready until every scenario ended
	rest          *rest.Config
	runner        *runner.Runner
	out           io.Writer
}

// NewSuite validates the options and loads the scenarios, so a bad flag
// or a broken scenario fails before any cluster work.
func NewSuite(o Options, cfg *envconf.Config) (*Suite, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	all, err := scenario.LoadAll(o.ScenarioDir)
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"kubectl", "gammaproof"} {
		if _, err := repo.Bin(b); err != nil {
			return nil, err
		}
	}
	return &Suite{opts: o, cfg: cfg, scenarios: all, out: os.Stdout}, nil
}

// Setup creates or finds the cluster, installs the Gateway API CRDs and
// the implementation under test, and prepares the runner.
func (s *Suite) Setup(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	s.start = time.Now()
	fmt.Fprintf(s.out, "e2e: environment %s, implementation %s, grant policy %s\n", s.opts.Env, s.opts.Implementation, s.opts.GrantPolicy)
	kubeconfig, err := s.cluster(ctx, cfg)
	if err != nil {
		return ctx, err
	}
	cfg.WithKubeconfigFile(kubeconfig)
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return ctx, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	rc.QPS, rc.Burst = 100, 200
	s.rest = rc
	applier, err := kubeapply.New(rc)
	if err != nil {
		return ctx, err
	}
	if err := installCRDs(ctx, applier); err != nil {
		return ctx, err
	}
	if s.opts.Implementation == ImplGammaproof {
		if err := s.installGammaproof(ctx, kubeconfig); err != nil {
			return ctx, err
		}
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return ctx, fmt.Errorf("create client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return ctx, fmt.Errorf("create dynamic client: %w", err)
	}
	kubectl, _ := repo.Bin("kubectl")
	s.runner = &runner.Runner{
		Applier: applier, Client: cs, Dynamic: dyn, Kubectl: kubectl, Kubeconfig: kubeconfig,
		GrantPolicy: s.opts.GrantPolicy,
		Supported:   splitList(s.opts.SupportedFeatures),
		Exempt:      splitList(s.opts.ExemptFeatures),
		Check:       check.Options{Params: s.opts.params(), Convergence: s.opts.Convergence},
		Progress:    s.out,
		Concurrency: s.opts.Concurrency,
	}
	if s.opts.Implementation == ImplGammaproof {
		s.runner.ControllerName = controllername.Gammaproof
	}
	s.ready = time.Now()
	fmt.Fprintf(s.out, "e2e: cluster ready in %.1fs; %d scenarios loaded\n", s.ready.Sub(s.start).Seconds(), len(s.scenarios))
	return ctx, nil
}

// cluster creates the cluster of the environment, or finds a running one,
// and returns its kubeconfig.
func (s *Suite) cluster(ctx context.Context, cfg *envconf.Config) (string, error) {
	switch s.opts.Env {
	case report.EnvExisting:
		kc := cfg.KubeconfigFile()
		if kc == "" {
			kc = os.Getenv("KUBECONFIG")
		}
		if kc == "" {
			return "", fmt.Errorf("--env=existing needs --kubeconfig or $KUBECONFIG")
		}
		return kc, nil
	case report.EnvKind:
		p := kind.New()
		s.provider = p
		kc, err := p.Create(ctx, s.opts.KindConfig)
		if err != nil {
			return "", err
		}
		s.created = true
		return kc, nil
	default:
		p, running, err := newLocalProvider(ctx)
		if err != nil {
			return "", err
		}
		s.provider = p
		if running {
			fmt.Fprintln(s.out, "e2e: using the running local cluster (it stays up)")
			return p.GetKubeconfig(), nil
		}
		kc, err := p.Create(ctx)
		if err != nil {
			return "", err
		}
		s.created = true
		return kc, nil
	}
}

// installCRDs installs the experimental-channel Gateway API CRDs at the
// pinned version; server-side apply leaves identical ones unchanged.
func installCRDs(ctx context.Context, a *kubeapply.Applier) error {
	files, err := crds.Files(crds.Experimental)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		objs, err := kubeapply.Decode(files[n])
		if err != nil {
			return fmt.Errorf("decode %s: %w", n, err)
		}
		if err := a.Apply(ctx, objs, false); err != nil {
			return fmt.Errorf("install Gateway API CRDs: %w", err)
		}
	}
	return nil
}

// installGammaproof loads our images (kind) and runs `gammaproof install`.
func (s *Suite) installGammaproof(ctx context.Context, kubeconfig string) error {
	gp, err := repo.Bin("gammaproof")
	if err != nil {
		return err
	}
	if s.opts.Env == report.EnvKind {
		dir := filepath.Join(repo.BinDir(), "images")
		if out, err := exec.CommandContext(ctx, gp, "images", "--out", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("build images: %w: %s", err, out)
		}
		loader, ok := s.provider.(support.E2EClusterProviderWithImageLoader)
		if !ok {
			return fmt.Errorf("provider cannot load images")
		}
		tars, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
		for _, t := range tars {
			if err := loader.LoadImageArchive(ctx, t); err != nil {
				return err
			}
		}
	}
	cmd := exec.CommandContext(ctx, gp, "install", "--kubeconfig", kubeconfig, "--grant-policy", s.opts.GrantPolicy, "--wait")
	cmd.Stdout, cmd.Stderr = s.out, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install gammaproof: %w", err)
	}
	return nil
}

// ScenariosDone records that every scenario has ended.
func (s *Suite) ScenariosDone() { s.scenariosTook = time.Since(s.ready) }

// Parallel reports whether scenarios run concurrently.
func (s *Suite) Parallel() bool { return s.opts.Concurrency != 1 }

// Features returns one feature per scenario.
func (s *Suite) Features() []features.Feature {
	out := make([]features.Feature, 0, len(s.scenarios))
	for _, sc := range s.scenarios {
		out = append(out, s.runner.Feature(sc))
	}
	return out
}

// Finish writes the reports, exports logs when something failed, and
// removes a cluster the suite created.
func (s *Suite) Finish(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	var errs []error
	if s.runner != nil && len(s.runner.Results()) == 0 {
		fmt.Fprintf(s.out, "e2e: no scenario ran; the reports in %s are left as they were\n", s.opts.ReportDir)
	} else if s.runner != nil {
		res := s.results(ctx)
		paths, err := report.Write(s.opts.ReportDir, res)
		if err != nil {
			errs = append(errs, err)
		}
		t := res.Totals()
		fmt.Fprintf(s.out, "e2e: %d passed, %d failed, %d inconclusive, %d errors, %d skipped; scenarios took %.1fs after the cluster was ready, the run %.1fs\n",
			t[verdict.Pass], t[verdict.Fail], t[verdict.Inconclusive], t[verdict.Error], t[verdict.Skip],
			s.scenariosTook.Seconds(), time.Since(s.start).Seconds())
		for _, p := range paths {
			fmt.Fprintln(s.out, "e2e: wrote", p)
		}
		if !res.Passed() && s.provider != nil {
			dir := filepath.Join(s.opts.ReportDir, "logs")
			if err := s.provider.ExportLogs(ctx, dir); err != nil {
				fmt.Fprintln(s.out, "e2e: export logs:", err)
			}
		}
	}
	if s.created && !s.opts.KeepCluster && s.provider != nil {
		if err := s.provider.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return ctx, fmt.Errorf("finish: %v", errs)
	}
	return ctx, nil
}

// results assembles results.json for the run.
func (s *Suite) results(ctx context.Context) *report.Results {
	r := &report.Results{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Run: report.Run{
			Environment:         s.opts.Env,
			Statistics:          report.Statistics{Alpha: s.opts.Alpha, Beta: s.opts.Beta, Delta: s.opts.Tolerance, Budget: s.opts.Budget},
			GatewayAPI:          report.GatewayAPI{Version: crds.GatewayAPIVersion, Channel: string(crds.Experimental)},
			Start:               s.start.UTC().Truncate(time.Second),
			End:                 time.Now().UTC().Truncate(time.Second),
			SupportedFeatures:   splitList(s.opts.SupportedFeatures),
			UnsupportedFeatures: splitList(s.opts.ExemptFeatures),
			GrantPolicy:         s.opts.GrantPolicy,
		},
		Scenarios: s.runner.Results(),
	}
	if s.opts.Implementation == ImplGammaproof {
		r.Run.Implementation = Gammaproof()
	} else {
		r.Run.Implementation = report.Implementation{Name: ImplExisting, Organization: "unknown", Project: "unknown", URL: "unknown", Version: "unknown"}
	}
	if cs, err := kubernetes.NewForConfig(s.rest); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			r.Run.Cluster.KubernetesVersion = v.GitVersion
		}
		if nodes, err := cs.CoreV1().Nodes().List(ctx, listAll); err == nil {
			r.Run.Cluster.Nodes = len(nodes.Items)
		}
	}
	if s.provider != nil {
		r.Run.Cluster.Name = s.provider.GetKubectlContext()
	}
	return r
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
