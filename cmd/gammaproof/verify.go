package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	e2eflags "sigs.k8s.io/e2e-framework/pkg/flags"

	"github.com/gammaproof/gammaproof/suite/console"
	"github.com/gammaproof/gammaproof/suite/e2e"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// errScenariosFailed says that a verify run ended with a scenario that did
// not pass (FAIL, INCONCLUSIVE or ERROR), or with none that ran; the
// summary has already said which, so main exits 1 without printing it
// again.
var errScenariosFailed = errors.New("scenarios did not all pass")

// verifyFlags are verify's own flags beside the suite's (e2e.Options).
type verifyFlags struct {
	kubeconfig, kubeContext string
	feature                 string
	labels                  labelsValue
	output                  string
	list                    bool
	upstreamVerdicts        string
	// upstream holds the verdicts read from upstreamVerdicts.
	upstream map[string]verdict.Verdict
}

const verifyExample = `  # another mesh, on the cluster of the current kubeconfig
  gammaproof verify --env=existing --implementation=existing \
      --organization=acme --project=acme-mesh --version=1.0 --grant-policy= \
      --supported-features=Mesh,HTTPRoute

  # gammaproof, installed by the run, on the cluster of a kubeconfig
  gammaproof verify --kubeconfig=.gammaproof/local/kubeconfig

  # gammaproof on the local cluster (started and stopped by the run)
  gammaproof verify --env=local

  # one scenario, the summary as JSON on stdout
  gammaproof verify --env=existing --implementation=existing --feature=mesh-weight -o json`

// verifyCommand is `gammaproof verify`: the verification suite against a
// cluster, the same runner and scenarios as `make e2e`.
func verifyCommand() *cobra.Command {
	gofs := flag.NewFlagSet("verify", flag.ContinueOnError)
	opts := e2e.RegisterFlags(gofs)
	// Here the cluster is the current kubeconfig's unless told otherwise.
	_ = gofs.Set("env", report.EnvExisting)
	gofs.Lookup("env").DefValue = report.EnvExisting
	vf := &verifyFlags{labels: labelsValue{e2eflags.LabelsMap{}}}
	gofs.StringVar(&vf.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for --env=existing (default $KUBECONFIG, else ~/.kube/config)")
	gofs.StringVar(&vf.kubeContext, "context", "", "kubeconfig context to use for --env=existing (default: its current context)")
	gofs.StringVar(&vf.feature, "feature", "", "run only the scenarios whose name matches this regular expression")
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "run the verification suite against a cluster and write its reports",
		Long: `Run every scenario (or those --feature and --labels select) against the
implementation under test on a cluster, print a line as each starts and
ends, then a summary, and write results.json, the upstream
ConformanceReport, junit.xml and report.html to --report-dir.
--upstream-verdicts adds upstream's verdicts from a conformance run of the
same cluster (hack/conformance.sh) beside ours and fails the run if they
disagree.

--env=existing (the default) uses the cluster of --kubeconfig (or
$KUBECONFIG, or ~/.kube/config) and needs nothing but this program;
--env=local and --env=kind create a cluster and remove it afterwards.
--implementation=gammaproof (the default) installs gammaproof first;
--implementation=existing tests the mesh the cluster already runs, and
--organization, --project, --url, --version and --contact name it in the
reports.

The scenarios are built into this program (those of the checkout's
scenarios/ it was built from); --scenarios DIR runs the folders of DIR
instead. --list prints the scenarios the selection picks, without a
cluster.

Exit status: 0 when every scenario passed (skips allowed), 1 when one
failed, was inconclusive or hit an error (or none ran), 2 on bad usage.`,
		Example: verifyExample,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if !slices.Contains(console.Formats, vf.output) {
				return fmt.Errorf("-o %q: use json or yaml (or leave it out for a table)", vf.output)
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			var err error
			vf.upstream, err = readUpstreamVerdicts(vf.upstreamVerdicts)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vf.list {
				return listScenarios(cmd.OutOrStdout(), *opts, vf)
			}
			return runVerify(cmd, *opts, vf)
		},
	}
	cmd.Flags().AddGoFlagSet(gofs)
	cmd.Flags().Var(&vf.labels, "labels", "run only the scenarios with these labels: comma-separated key=value (profile=MESH-HTTP, feature=…, scenario=…)")
	cmd.Flags().StringVarP(&vf.output, "output", "o", "", "print the summary as json or yaml on stdout (progress then goes to stderr)")
	cmd.Flags().StringVar(&vf.upstreamVerdicts, "upstream-verdicts", "", upstreamVerdictsHelp)
	_ = cmd.MarkFlagFilename("upstream-verdicts", "json")
	cmd.Flags().BoolVar(&vf.list, "list", false, "print the scenarios the run would select (--scenarios, --feature, --labels) and exit; needs no cluster")
	return cmd
}

// runVerify runs the suite and prints the summary; the error decides the
// exit status.
func runVerify(cmd *cobra.Command, opts e2e.Options, vf *verifyFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	progress := stdout
	if vf.output != console.FormatTable {
		progress = stderr
	}
	cfg := vf.config()
	host := e2e.Host{Progress: progress, TerminalWidth: terminalWidth(progress)}
	if opts.Implementation == e2e.ImplGammaproof {
		// gammaproof installs itself: this very program, not bin/.
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program to install gammaproof with: %w", err)
		}
		host.Gammaproof = self
	}
	suite, err := e2e.NewSuite(opts, cfg, host)
	if err != nil {
		return err
	}
	runErr := suite.Run(cmd.Context(), os.Stderr)
	sum := suite.Summary()
	if runErr != nil && len(sum.Scenarios) == 0 {
		return runErr // no cluster or no install: nothing to summarise
	}
	var agreeErr error
	if vf.upstream != nil {
		agreeErr = withUpstream(progress, sum.Reports, vf)
	}
	if err := sum.Write(stdout, vf.output); err != nil {
		return errors.Join(runErr, agreeErr, err)
	}
	if runErr != nil || agreeErr != nil {
		return errors.Join(runErr, agreeErr)
	}
	return verdictError(sum)
}

// withUpstream attaches --upstream-verdicts to the run's reports (the
// results.json among written) and rewrites them.
func withUpstream(w io.Writer, written []string, vf *verifyFlags) error {
	for _, p := range written {
		if filepath.Base(p) == report.ResultsFile {
			_, err := attachUpstream(w, p, filepath.Dir(p), vf.upstreamVerdicts, vf.upstream)
			return err
		}
	}
	return errors.New("--upstream-verdicts: the run wrote no results.json to attach them to")
}

// config is the e2e-framework configuration of the flags: the cluster and
// the selection.
func (vf *verifyFlags) config() *envconf.Config {
	cfg := envconf.New().WithKubeconfigFile(vf.kubeconfig).WithKubeContext(vf.kubeContext).WithLabels(vf.labels.m)
	if vf.feature != "" {
		cfg.WithFeatureRegex(vf.feature)
	}
	return cfg
}

// scenarioLine is one scenario of `verify --list`.
type scenarioLine struct {
	Name        string   `json:"name"`
	Profile     string   `json:"profile"`
	Level       string   `json:"level"` // core or extended
	Upstream    string   `json:"upstream,omitempty"`
	GrantPolicy string   `json:"grantPolicy,omitempty"`
	Features    []string `json:"features"`
	Description string   `json:"description"`
}

// listScenarios prints the scenarios the selection picks: a table, or
// -o json|yaml.
func listScenarios(w io.Writer, opts e2e.Options, vf *verifyFlags) error {
	all, err := opts.Scenarios()
	if err != nil {
		return err
	}
	picked := e2e.Select(vf.config(), all)
	lines := make([]scenarioLine, 0, len(picked))
	for _, sc := range picked {
		l := scenarioLine{Name: sc.Name, Profile: sc.Profile, Level: "extended", Upstream: sc.Upstream,
			GrantPolicy: sc.GrantPolicy, Features: sc.Features, Description: sc.Description}
		if sc.Core {
			l.Level = "core"
		}
		lines = append(lines, l)
	}
	if vf.output != console.FormatTable {
		return printStructured(w, vf.output, lines)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPROFILE\tLEVEL\tUPSTREAM TEST\tGRANTS\tFEATURES")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Profile, l.Level, dash(l.Upstream), dash(l.GrantPolicy), strings.Join(l.Features, ","))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the scenarios: %w", err)
	}
	from := "built into this program"
	if opts.ScenarioDir != "" {
		from = "in " + opts.ScenarioDir
	}
	_, err = fmt.Fprintf(w, "%d of %d scenarios %s\n", len(lines), len(all), from)
	return err
}

// verdictError decides the exit status from the summary: nil when the run
// passed, else an error wrapping errScenariosFailed (exit 1).
func verdictError(s console.Summary) error {
	if s.Passed {
		return nil
	}
	if len(s.Scenarios) == 0 {
		return fmt.Errorf("no scenario ran: %w", errScenariosFailed)
	}
	return fmt.Errorf("%d of %d scenarios did not pass: %w", s.NotPassed(), len(s.Scenarios), errScenariosFailed)
}

// labelsValue is --labels: e2e-framework's label selection as a flag.
type labelsValue struct{ m e2eflags.LabelsMap }

func (l *labelsValue) Set(s string) error { return l.m.Set(s) }
func (l *labelsValue) Type() string       { return "key=value,..." }
func (l *labelsValue) String() string {
	if len(l.m) == 0 {
		return ""
	}
	return l.m.String()
}

// terminalWidth returns the width of the terminal w is, or 0 when it is
// not one.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width < 20 {
		return 80
	}
	return width
}
