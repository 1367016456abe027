//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/internal/faultcatalog"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/upstream"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// The controller the fault runs swap. The suite does not import impl/:
// these are the names impl/deploy gives it.
const (
	controllerNamespace  = "gammaproof-system"
	controllerDeployment = "gamma-controller"
	controllerContainer  = "controller"
	// faultImage resolves on the local cluster to bin/faults/gamma-controller
	// (hack/build-faults.sh).
	faultImage = "gammaproof/controller:faults"
)

var (
	faultsFlag = flag.String("faults", "prefix-not-segment-bounded,timeout-ignored",
		`comma-separated faults TestFaults runs (internal/faultcatalog), or "all"; the correct mesh always runs`)
	faultRepeats   = flag.Int("fault-repeats", 1, "how often TestFaults runs the scenarios of each fault and of the correct mesh")
	faultsReport   = flag.String("faults-report-dir", filepath.Join(repo.Root(), "reports", "faults"), "where TestFaults writes table.md and table.json")
	faultsMerge    = flag.Bool("faults-merge", false, "merge into the table already in --faults-report-dir: its rows of other faults stay (run the catalogue in batches)")
	faultsAddRuns  = flag.Bool("faults-add-runs", false, "with --faults-merge: a fault's new runs are added to the runs already in its row (same scenarios and grant policy) instead of replacing them")
	faultsUpstream = flag.String("faults-upstream", "",
		"upstream's conformance runner as a test binary (go test -c -tags conformance -o bin/gammaproof-upstream.test ./suite/upstream/runner): TestFaults runs upstream's mesh tests on each faulty mesh and on the correct one; empty: the upstream column is not run")
)

// TestFaults runs, on the local cluster with gammaproof installed, each
// fault of --faults: it switches the controller to the fault-injecting
// build with --fault=NAME, runs the scenarios the catalogue names for the
// fault through the suite (a child run of this binary's TestScenarios,
// --implementation=existing so it leaves the controller alone), records
// the verdicts and restores the release controller; then the same
// scenarios on the release controller (the correct mesh). Our suite must
// FAIL every fault of 5 points or more and every non-statistical fault,
// and PASS the correct mesh. The table goes to reports/faults/.
func TestFaults(t *testing.T) {
	if suite.runner == nil {
		t.Fatal("the environment was not set up; see the errors above")
	}
	if suite.opts.Implementation != ImplGammaproof || suite.opts.Env != report.EnvLocal {
		t.Skipf("SKIP: swaps gammaproof's controller for its fault-injecting build, which only the local cluster resolves; this run is --env=%s --implementation=%s", suite.opts.Env, suite.opts.Implementation)
	}
	faults, err := selectedFaults(*faultsFlag)
	if err != nil {
		t.Fatal(err)
	}
	if *faultRepeats < 1 {
		t.Fatalf("--fault-repeats=%d: want 1 or more", *faultRepeats)
	}
	if *faultsUpstream != "" {
		// Upstream's runner runs in its own directory (its manifests are
		// relative to it): the binary's path must not be.
		abs, err := filepath.Abs(*faultsUpstream)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			t.Fatalf("--faults-upstream=%s: %v (build it with make faults-upstream-build)", *faultsUpstream, err)
		}
		*faultsUpstream = abs
	}
	// The fault-injecting controller is built here, so make e2e needs no
	// extra step; go's build cache makes a rebuild cheap.
	build := exec.Command(filepath.Join(repo.Root(), "hack", "build-faults.sh"))
	build.Env = append(os.Environ(), "BIN="+repo.BinDir())
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the fault-injecting controller (hack/build-faults.sh, needs go in PATH): %v\n%s", err, out)
	}
	cs, err := kubernetes.NewForConfig(suite.rest)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release, err := controllerSpec(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setController(context.Background(), cs, release.image, release.args); err != nil {
			t.Errorf("restore the release controller: %v", err)
		}
	})
	policies := map[string]string{}
	for _, s := range suite.scenarios {
		policies[s.Name] = s.GrantPolicy
	}

	var rows []faultRow
	union := map[string]bool{}
	for _, f := range faults {
		row := faultRow{faultEntry: entryOf(f), Gap: f.Gap, Upstream: "not run"}
		if len(f.Scenarios) == 0 {
			rows = append(rows, row)
			continue
		}
		row.GrantPolicy = policyOf(f.Scenarios, policies)
		args := controllerArgs(release.args, row.GrantPolicy, f.Name)
		for i := 0; i < *faultRepeats; i++ {
			run := runWithController(ctx, t, cs, faultImage, args, f.Scenarios, row.GrantPolicy)
			fmt.Fprintf(suite.out, "faults: %-34s run %d: %-12s requests=%-7d %6.1fs %s\n", f.Name, i+1, run.Verdict, run.Requests, run.Seconds, run.Error)
			if run.Upstream != nil {
				fmt.Fprintf(suite.out, "faults: %-34s run %d: upstream %s\n", f.Name, i+1, describeUpstream(row.GrantPolicy, run.Upstream))
			}
			row.Runs = append(row.Runs, run)
		}
		rows = append(rows, row)
		for _, s := range f.Scenarios {
			union[s] = true
		}
	}

	// The correct mesh: the same scenarios on the release controller,
	// grouped by the grant policy they need.
	correct := faultRow{faultEntry: faultEntry{Fault: correctMesh, Description: "the release controller (no fault): every scenario must PASS"}, Upstream: "not run"}
	byPolicy := map[string][]string{}
	for s := range union {
		p := policyOf([]string{s}, policies)
		byPolicy[p] = append(byPolicy[p], s)
	}
	// baseline is upstream's verdicts on the correct mesh by grant policy
	// (the last run's): a test that fails there too is no catch.
	baseline := map[string]map[string]verdict.Verdict{}
	for i := 0; i < *faultRepeats; i++ {
		total := faultRun{Verdict: verdict.Pass, Scenarios: map[string]verdict.Verdict{}}
		for _, p := range slices.Sorted(maps.Keys(byPolicy)) {
			names := byPolicy[p]
			slices.Sort(names)
			run := runWithController(ctx, t, cs, release.image, controllerArgs(release.args, p, ""), names, p)
			if up := run.Upstream; up != nil {
				if up.Error == "" {
					baseline[p] = up.Tests
				}
				if total.Upstream == nil {
					total.Upstream = &upstreamRun{Tests: map[string]verdict.Verdict{}}
				}
				total.Upstream.Seconds += up.Seconds
				total.Upstream.Failed = append(total.Upstream.Failed, up.Failed...)
				for k, v := range up.Tests {
					total.Upstream.Tests[p+"/"+k] = v
				}
				if up.Error != "" {
					total.Upstream.Error = strings.TrimPrefix(total.Upstream.Error+"; "+up.Error, "; ")
				}
			}
			total.Requests += run.Requests
			total.Seconds += run.Seconds
			for k, v := range run.Scenarios {
				total.Scenarios[k] = v
			}
			if run.Verdict.Worse(total.Verdict) {
				total.Verdict = run.Verdict
			}
			if run.Error != "" {
				total.Error = strings.TrimPrefix(total.Error+"; "+run.Error, "; ")
			}
		}
		fmt.Fprintf(suite.out, "faults: %-34s run %d: %-12s requests=%-7d %6.1fs %s\n", correctMesh, i+1, total.Verdict, total.Requests, total.Seconds, total.Error)
		correct.Runs = append(correct.Runs, total)
	}
	for s := range union {
		correct.Scenarios = append(correct.Scenarios, s)
	}
	slices.Sort(correct.Scenarios)
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range rows {
		rows[i].Measured = now
	}
	correct.Measured = now
	rows = append(rows, correct)

	if *faultsMerge {
		if rows, err = mergeFaultRows(*faultsReport, rows, *faultsAddRuns); err != nil {
			t.Fatal(err)
		}
	} else if *faultsAddRuns {
		t.Fatal("--faults-add-runs adds to a table's rows: it needs --faults-merge")
	}
	// The rows this run measured (with any runs added to them) are judged
	// against upstream's verdicts on this run's correct mesh.
	for i := range rows {
		switch {
		case rows[i].Measured != now:
		case rows[i].Fault == correctMesh:
			rows[i].Upstream = correctUpstream(rows[i].Runs)
		default:
			rows[i].Upstream = judgeUpstream(&rows[i], baseline)
		}
	}
	doc := faultTable{Measured: now, Environment: suite.opts.Env,
		Tolerance: suite.opts.Tolerance, Alpha: suite.opts.Alpha, Beta: suite.opts.Beta, Rows: rows}
	if err := writeFaultTable(*faultsReport, doc); err != nil {
		t.Error(err)
	}
	for _, row := range rows {
		for i, run := range row.Runs {
			switch {
			case row.Fault == correctMesh && run.Verdict != verdict.Pass:
				t.Errorf("false alarm: the correct mesh got %s in run %d (%v) %s", run.Verdict, i+1, run.Scenarios, run.Error)
			case row.Fault != correctMesh && mustCatch(row) && run.Verdict != verdict.Fail:
				t.Errorf("fault %s not caught in run %d: %s (%v) %s", row.Fault, i+1, run.Verdict, run.Scenarios, run.Error)
			}
			if up := run.Upstream; up != nil && up.Error != "" && row.Measured == now {
				t.Errorf("%s run %d: upstream's column has no verdict: %s", row.Fault, i+1, up.Error)
			}
		}
	}
}

// mustCatch: every fault the suite must FAIL — all but skews below the
// suite's tolerance (split-skew-3 shows what it should not catch).
func mustCatch(row faultRow) bool {
	if m := regexp.MustCompile(`^split-skew-(\d+)$`).FindStringSubmatch(row.Fault); m != nil {
		points, _ := strconv.Atoi(m[1])
		return float64(points)/100 >= suite.opts.Tolerance-1e-9
	}
	return true
}

func selectedFaults(list string) ([]faultcatalog.Fault, error) {
	if strings.TrimSpace(list) == "all" {
		return faultcatalog.All(), nil
	}
	var out []faultcatalog.Fault
	for _, name := range upstream.SplitList(list) {
		f, err := faultcatalog.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--faults: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// policyOf is the grant policy the scenarios need: the one a scenario
// names (the catalogue keeps a fault's scenarios to one), else spec.
func policyOf(scenarios []string, policies map[string]string) string {
	for _, s := range scenarios {
		if p := policies[s]; p != "" {
			return p
		}
	}
	return string(grantpolicy.Spec)
}

// containerSpec is the controller container's image and args.
type containerSpec struct {
	image string
	args  []string
}

func controllerSpec(ctx context.Context, cs kubernetes.Interface) (containerSpec, error) {
	d, err := cs.AppsV1().Deployments(controllerNamespace).Get(ctx, controllerDeployment, metav1.GetOptions{})
	if err != nil {
		return containerSpec{}, fmt.Errorf("get the controller Deployment: %w", err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == controllerContainer {
			return containerSpec{image: c.Image, args: slices.Clone(c.Args)}, nil
		}
	}
	return containerSpec{}, fmt.Errorf("the controller Deployment has no container %q", controllerContainer)
}

// controllerArgs is args with the grant policy and, unless fault is "",
// --fault set.
func controllerArgs(args []string, policy, fault string) []string {
	out := slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		return strings.HasPrefix(a, "--grant-policy=") || strings.HasPrefix(a, "--fault=")
	})
	out = append([]string{"--grant-policy=" + policy}, out...)
	if fault != "" {
		out = append(out, "--fault="+fault)
	}
	return out
}

// setController updates the controller container and waits for the
// rollout: every replica runs the new template and is available.
func setController(ctx context.Context, cs kubernetes.Interface, image string, args []string) error {
	deps := cs.AppsV1().Deployments(controllerNamespace)
	for attempt := 0; ; attempt++ {
		d, err := deps.Get(ctx, controllerDeployment, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get the controller Deployment: %w", err)
		}
		for i := range d.Spec.Template.Spec.Containers {
			if c := &d.Spec.Template.Spec.Containers[i]; c.Name == controllerContainer {
				c.Image, c.Args = image, args
			}
		}
		_, err = deps.Update(ctx, d, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update the controller Deployment: %w", err)
		}
		break
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := deps.Get(ctx, controllerDeployment, metav1.GetOptions{})
		if err == nil && rolledOut(d) {
			return nil
		}
		if time.Now().After(deadline) {
			var status appsv1.DeploymentStatus
			if d != nil {
				status = d.Status
			}
			hint := ""
			if image == faultImage {
				hint = "; a local cluster started before gammaproof/controller:faults resolved to bin/faults/ runs the release binary, which rejects --fault: restart it (make cluster-down cluster-up)"
			}
			return fmt.Errorf("the controller Deployment did not roll out to %s %v in 3m (status %+v, %v)%s", image, args, status, err, hint)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}

// runWithController switches the controller, runs the scenarios and
// returns what the suite said.
func runWithController(ctx context.Context, t *testing.T, cs kubernetes.Interface, image string, args, scenarios []string, policy string) faultRun {
	t.Helper()
	if err := setController(ctx, cs, image, args); err != nil {
		return faultRun{Verdict: verdict.Error, Error: err.Error()}
	}
	run := runScenarios(ctx, t, scenarios, policy)
	if err := waitNamespacesGone(ctx, cs, scenarios); err != nil {
		t.Logf("faults: %v", err)
	}
	if *faultsUpstream != "" {
		up := runUpstream(ctx, t, policy)
		run.Upstream = &up
	}
	return run
}

// runUpstream runs upstream's mesh conformance tests (profiles MESH-HTTP
// and MESH-GRPC, gammaproof's features, as hack/conformance.sh does) on the
// mesh as it is, with the binary --faults-upstream names, and reads the
// per-test verdicts it writes. Upstream's tests failing is the point, not
// an error: only a run that wrote no verdicts is one.
func runUpstream(ctx context.Context, t *testing.T, policy string) upstreamRun {
	t.Helper()
	dir := t.TempDir()
	mode := "default"
	if policy == string(grantpolicy.Strict) {
		mode = "strict-grants"
	}
	args := []string{
		"-test.run", "^TestConformance$", "-test.timeout", "30m",
		"--kubeconfig=" + suite.cfg.KubeconfigFile(),
		"--conformance-profiles=MESH-HTTP,MESH-GRPC", "--gammaproof-features",
		"--organization=gammaproof", "--project=gammaproof", "--url=https://github.com/gammaproof/gammaproof",
		"--version=faults", "--contact=https://github.com/gammaproof/gammaproof/issues", "--mode=" + mode,
		"--report-output=" + filepath.Join(dir, "report.yaml"), "--upstream-verdicts=" + filepath.Join(dir, "verdicts.json"),
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, *faultsUpstream, args...)
	cmd.Dir = filepath.Join(repo.Root(), "suite", "upstream", "runner")
	out, runErr := cmd.CombinedOutput()
	up := upstreamRun{Seconds: time.Since(start).Seconds(), Tests: map[string]verdict.Verdict{}}
	data, err := os.ReadFile(filepath.Join(dir, "verdicts.json"))
	if err != nil {
		up.Error = fmt.Sprintf("upstream wrote no verdicts (%v): %v: %s", runErr, err, lastLines(string(out), 5))
		return up
	}
	var all map[string]verdict.Verdict
	if err := json.Unmarshal(data, &all); err != nil {
		up.Error = fmt.Sprintf("read upstream's verdicts: %v", err)
		return up
	}
	for name, v := range all {
		if v == verdict.Skip {
			continue
		}
		up.Tests[name] = v
		if v == verdict.Fail {
			up.Failed = append(up.Failed, name)
		}
	}
	slices.Sort(up.Failed)
	if len(up.Tests) == 0 {
		up.Error = "upstream ran no mesh test"
	}
	return up
}

// runScenarios runs this binary's TestScenarios for the scenarios alone,
// against the implementation as it is (--implementation=existing leaves the
// controller alone), and reads its results.json.
func runScenarios(ctx context.Context, t *testing.T, scenarios []string, policy string) faultRun {
	t.Helper()
	dir := t.TempDir()
	o := suite.opts
	args := []string{
		"-test.run", "^TestScenarios$", "-test.timeout", "30m",
		"--env=" + o.Env, "--implementation=" + ImplExisting, "--grant-policy=" + policy,
		"--feature=^(" + strings.Join(scenarios, "|") + ")$",
		"--report-dir=" + dir, "--scenarios=" + o.ScenarioDir,
		"--alpha=" + fmt.Sprint(o.Alpha), "--beta=" + fmt.Sprint(o.Beta), "--tolerance=" + fmt.Sprint(o.Tolerance),
		"--budget=" + strconv.Itoa(o.Budget), "--convergence=" + o.Convergence.String(),
		"--scenario-concurrency=" + strconv.Itoa(o.Concurrency),
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	out, runErr := cmd.CombinedOutput()
	run := faultRun{Seconds: time.Since(start).Seconds(), Scenarios: map[string]verdict.Verdict{}}
	res, err := report.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		run.Verdict, run.Error = verdict.Error, fmt.Sprintf("no results (%v): %v: %s", runErr, err, lastLines(string(out), 5))
		return run
	}
	worst := verdict.Pass
	for _, s := range res.Scenarios {
		run.Scenarios[s.Name] = s.Verdict
		for _, c := range s.Checks {
			run.Requests += c.Requests
		}
		if s.Verdict.Worse(worst) {
			worst = s.Verdict
		}
	}
	run.Verdict = worst
	// A fault is caught when any scenario FAILs, whatever else happened.
	for _, v := range run.Scenarios {
		if v == verdict.Fail {
			run.Verdict = verdict.Fail
		}
	}
	if len(run.Scenarios) != len(scenarios) {
		run.Verdict, run.Error = verdict.Error, fmt.Sprintf("%d of %d scenarios ran", len(run.Scenarios), len(scenarios))
	}
	return run
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// waitNamespacesGone waits until the namespaces the scenarios' manifests
// create are deleted, so the next run can create them again.
func waitNamespacesGone(ctx context.Context, cs kubernetes.Interface, scenarios []string) error {
	var namespaces []string
	for _, s := range suite.scenarios {
		if !slices.Contains(scenarios, s.Name) {
			continue
		}
		for _, st := range s.Steps {
			for _, f := range st.Apply {
				objs, err := s.Objects(f)
				if err != nil {
					return err
				}
				for _, u := range objs {
					if u.GetKind() == "Namespace" && u.GetName() != "default" {
						namespaces = append(namespaces, u.GetName())
					}
				}
			}
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, ns := range namespaces {
		for {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s still exists 3m after its scenario (%v)", ns, err)
			}
			time.Sleep(time.Second)
		}
	}
	return nil
}
