package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/check"
	"github.com/gammaproof/gammaproof/suite/console"
	"github.com/gammaproof/gammaproof/suite/env/kind"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/runner"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/podproxy"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/upstream"
)

// Host is what the program running the suite provides.
type Host struct {
	// Progress receives the run's progress lines. Default os.Stdout.
	Progress io.Writer
	// TerminalWidth is the width of the terminal Progress is, or 0 when it
	// is not a terminal (plain lines only).
	TerminalWidth int
	// Gammaproof is the gammaproof command the suite runs to install
	// gammaproof (`install --wait`) and build its images for kind
	// (`images`). Default bin/gammaproof of the checkout.
	Gammaproof string
}

// Suite is one run: its options, cluster and scenarios.
type Suite struct {
	opts          Options
	cfg           *envconf.Config
	host          Host
	scenarios     []*scenario.Scenario
	byNamespace   map[string]string // client namespace → scenario
	provider      support.E2EClusterProvider
	created       bool
	tmp           string // this run's own files (a kubeconfig), removed by Finish
	start         time.Time
	ready         time.Time     // cluster up and implementation installed
	scenariosTook time.Duration // from ready until every scenario ended
	rest          *rest.Config
	runner        *runner.Runner
	out           io.Writer
	progress      *console.Progress
	results       *report.Results // written by Finish
	reports       []string        // the files Finish wrote
}

// NewSuite validates the options and loads the scenarios, so a bad flag
// or a broken scenario fails before any cluster work.
func NewSuite(o Options, cfg *envconf.Config, host Host) (*Suite, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	all, err := scenario.LoadAll(o.ScenarioDir)
	if err != nil {
		return nil, err
	}
	if host.Progress == nil {
		host.Progress = os.Stdout
	}
	if host.Gammaproof == "" && o.Implementation == ImplGammaproof {
		if host.Gammaproof, err = repo.Bin("gammaproof"); err != nil {
			return nil, err
		}
	}
	s := &Suite{opts: o, cfg: cfg, host: host, scenarios: all, out: host.Progress,
		progress: console.NewProgress(host.Progress, host.TerminalWidth), byNamespace: map[string]string{}}
	for _, sc := range all {
		for _, st := range sc.Steps {
			for _, c := range st.Checks {
				if _, ok := s.byNamespace[c.From.Namespace]; !ok {
					s.byNamespace[c.From.Namespace] = sc.Name
				}
			}
		}
	}
	return s, nil
}

// Setup creates or finds the cluster, installs the Gateway API CRDs and
// the implementation under test, and prepares the runner.
func (s *Suite) Setup(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	s.start = time.Now()
	fmt.Fprintf(s.out, "suite: environment %s, implementation %s, grant policy %s\n", s.opts.Env, s.opts.Implementation, s.opts.GrantPolicy)
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
	cs, csErr := kubernetes.NewForConfig(rc)
	dyn, dynErr := dynamic.NewForConfig(rc)
	if err := errors.Join(csErr, dynErr); err != nil {
		return ctx, fmt.Errorf("create clients: %w", err)
	}
	s.runner = &runner.Runner{
		Applier: applier, Client: cs, Dynamic: dyn, REST: rc,
		GrantPolicy: s.opts.GrantPolicy,
		Supported:   upstream.SplitList(s.opts.SupportedFeatures),
		Exempt:      upstream.SplitList(s.opts.ExemptFeatures),
		Check:       check.Options{Params: s.opts.params(), Convergence: s.opts.Convergence},
		Sampler: func(ns, pod string, port int) sample.Sampler {
			name := s.byNamespace[ns]
			return countingSampler{podproxy.New(cs, ns, pod, port), func(n int) { s.progress.Requests(name, n) }}
		},
		Concurrency:   s.opts.Concurrency,
		ImageRegistry: s.opts.ImageRegistry,
	}
	if s.opts.Implementation == ImplGammaproof {
		s.runner.ControllerName = controllername.Gammaproof
	}
	s.ready = time.Now()
	fmt.Fprintf(s.out, "suite: cluster ready in %.1fs; %d scenarios loaded\n", s.ready.Sub(s.start).Seconds(), len(s.scenarios))
	return ctx, nil
}

// countingSampler tells count how many requests each sample sent.
type countingSampler struct {
	sample.Sampler
	count func(int)
}

func (c countingSampler) Sample(ctx context.Context, req sample.Request) (sample.Result, error) {
	res, err := c.Sampler.Sample(ctx, req)
	c.count(res.Requests)
	return res, err
}

// cluster creates the cluster of the environment, or finds a running one,
// and returns its kubeconfig.
func (s *Suite) cluster(ctx context.Context, cfg *envconf.Config) (string, error) {
	switch s.opts.Env {
	case report.EnvExisting:
		tmp, err := os.MkdirTemp("", "gammaproof-verify-")
		if err != nil {
			return "", fmt.Errorf("create a directory for the run: %w", err)
		}
		s.tmp = tmp
		return existingKubeconfig(cfg.KubeconfigFile(), cfg.KubeContext(), tmp)
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
		p, running, err := newLocalProvider(ctx, s.out)
		if err != nil {
			return "", err
		}
		s.provider = p
		if running {
			fmt.Fprintln(s.out, "suite: using the running local cluster (it stays up)")
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

// installGammaproof loads our images (kind, unless they come from a
// registry) and runs `gammaproof install`.
func (s *Suite) installGammaproof(ctx context.Context, kubeconfig string) error {
	gp := s.host.Gammaproof
	if s.opts.Env == report.EnvKind && s.opts.ImageRegistry == "" {
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
	args := []string{"install", "--kubeconfig", kubeconfig, "--grant-policy", s.opts.GrantPolicy, "--wait"}
	if s.opts.ImageRegistry != "" {
		args = append(args, "--image-registry", s.opts.ImageRegistry)
	}
	cmd := exec.CommandContext(ctx, gp, args...)
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
// removes a cluster the suite created and the run's own files.
func (s *Suite) Finish(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	var errs []error
	s.progress.End()
	if s.runner != nil && len(s.runner.Results()) == 0 {
		fmt.Fprintf(s.out, "suite: no scenario ran; the reports in %s are left as they were\n", s.opts.ReportDir)
	} else if s.runner != nil {
		s.results = s.resultsOf(ctx)
		paths, err := report.Write(s.opts.ReportDir, s.results)
		if err != nil {
			errs = append(errs, err)
		}
		s.reports = paths
		fmt.Fprintf(s.out, "suite: scenarios took %.1fs after the cluster was ready, the run %.1fs\n",
			s.scenariosTook.Seconds(), time.Since(s.start).Seconds())
		if !s.results.Passed() && s.provider != nil {
			dir := filepath.Join(s.opts.ReportDir, "logs")
			if err := s.provider.ExportLogs(ctx, dir); err != nil {
				fmt.Fprintln(s.out, "suite: export logs:", err)
			}
		}
	}
	if s.created && !s.opts.KeepCluster && s.provider != nil {
		if err := s.provider.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.tmp != "" {
		if err := os.RemoveAll(s.tmp); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.tmp, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ctx, fmt.Errorf("finish: %w", err)
	}
	return ctx, nil
}

// Summary returns the summary of the run once Finish wrote the reports;
// one without scenarios when none ran.
func (s *Suite) Summary() console.Summary {
	res := s.results
	if res == nil {
		res = &report.Results{Run: report.Run{Implementation: s.opts.implementation(), Environment: s.opts.Env, GrantPolicy: s.opts.GrantPolicy}}
	}
	took := time.Duration(0)
	if !s.start.IsZero() {
		took = time.Since(s.start)
	}
	return console.NewSummary(res, s.reports, took)
}

// resultsOf assembles results.json for the run.
func (s *Suite) resultsOf(ctx context.Context) *report.Results {
	r := &report.Results{
		APIVersion: report.APIVersion,
		Kind:       report.Kind,
		Run: report.Run{
			Implementation:      s.opts.implementation(),
			Environment:         s.opts.Env,
			Mode:                s.opts.Mode,
			Statistics:          report.Statistics{Alpha: s.opts.Alpha, Beta: s.opts.Beta, Delta: s.opts.Tolerance, Budget: s.opts.Budget},
			GatewayAPI:          report.GatewayAPI{Version: crds.GatewayAPIVersion, Channel: string(crds.Experimental)},
			Start:               s.start.UTC().Truncate(time.Second),
			End:                 time.Now().UTC().Truncate(time.Second),
			SupportedFeatures:   upstream.SplitList(s.opts.SupportedFeatures),
			UnsupportedFeatures: upstream.SplitList(s.opts.ExemptFeatures),
			GrantPolicy:         s.opts.GrantPolicy,
		},
		Scenarios: s.runner.Results(),
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
	} else if kc, err := clientcmd.LoadFromFile(s.cfg.KubeconfigFile()); err == nil {
		r.Run.Cluster.Name = kc.CurrentContext
	}
	return r
}
