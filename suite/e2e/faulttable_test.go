package e2e

// The fault table (reports/faults/): its rows, how batches merge and how it
// is written. No build tag: its unit tests run in go test ./... without a
// cluster; TestFaults (faults_test.go, tag e2e) fills it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/faultcatalog"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// correctMesh is the table row of the release controller.
const correctMesh = "correct-mesh"

// faultRun is one run of a fault's scenarios (or the correct mesh's).
type faultRun struct {
	Verdict   verdict.Verdict            `json:"verdict"`
	Scenarios map[string]verdict.Verdict `json:"scenarios"`
	Requests  int                        `json:"requests"`
	Seconds   float64                    `json:"seconds"`
	Error     string                     `json:"error,omitempty"`
	// Upstream is upstream's mesh conformance run on the same mesh, right
	// after ours; nil when --faults-upstream is empty.
	Upstream *upstreamRun `json:"upstream,omitempty"`
}

// upstreamRun is one run of upstream's mesh conformance tests
// (suite/upstream/runner, unchanged upstream tests) on a mesh.
type upstreamRun struct {
	// Tests is each mesh test's verdict by short name (SKIPs left out).
	Tests map[string]verdict.Verdict `json:"tests,omitempty"`
	// Failed are the tests that FAILed, sorted.
	Failed []string `json:"failed,omitempty"`
	// New are the FAILed tests that PASS on the correct mesh under the
	// same grant policy: what upstream caught. Filled in once the correct
	// mesh has run.
	New     []string `json:"new,omitempty"`
	Caught  bool     `json:"caught"`
	Seconds float64  `json:"seconds"`
	Error   string   `json:"error,omitempty"`
}

// faultEntry is what a row says about the fault before any run: the
// catalogue's words (faultcatalog.Fault) under table.json's names.
type faultEntry struct {
	Fault       string   `json:"fault"`
	Description string   `json:"description"`
	Source      string   `json:"source,omitempty"`
	Statistical bool     `json:"statistical"`
	Scenarios   []string `json:"scenarios"`
}

// entryOf is the catalogue's entry for f.
func entryOf(f faultcatalog.Fault) faultEntry {
	return faultEntry{Fault: f.Name, Description: f.Description, Source: f.Source, Statistical: f.Statistical, Scenarios: f.Scenarios}
}

// faultRow is one row of reports/faults/table. Its entry comes first, so
// table.json keeps its field order (fault, description, source,
// statistical, scenarios, grantPolicy, runs, …).
type faultRow struct {
	faultEntry
	GrantPolicy string     `json:"grantPolicy"`
	Runs        []faultRun `json:"runs"`
	// Gap is why no scenario can catch the fault yet (it was not run).
	Gap string `json:"gap,omitempty"`
	// Upstream summarises upstream's conformance suite on the same faulty
	// mesh over the runs (each run's detail is in Runs[i].Upstream), or
	// "not run".
	Upstream string `json:"upstream"`
	// Measured is when the row's runs ended (UTC, RFC 3339): rows merged
	// from batches (--faults-merge) differ.
	Measured string `json:"measured,omitempty"`
}

// judgeUpstream marks, in every fault run, the upstream tests that FAILed
// but PASS on the correct mesh under the same grant policy (baseline):
// those are what upstream caught. It returns the row's summary.
func judgeUpstream(row *faultRow, baseline map[string]map[string]verdict.Verdict) string {
	caught, ran := 0, 0
	seconds := 0.0
	var errs []string
	names := map[string]bool{}
	for i := range row.Runs {
		up := row.Runs[i].Upstream
		if up == nil {
			continue
		}
		if up.Error != "" {
			errs = append(errs, up.Error)
			continue
		}
		ran++
		seconds += up.Seconds
		base := baseline[row.GrantPolicy]
		up.New = nil
		for _, name := range up.Failed {
			if base == nil || base[name] == verdict.Pass {
				up.New = append(up.New, name)
				names[name] = true
			}
		}
		up.Caught = len(up.New) > 0
		if up.Caught {
			caught++
		}
	}
	if ran == 0 && len(errs) == 0 {
		return "not run"
	}
	s := fmt.Sprintf("%d / %d caught", caught, ran)
	if len(names) > 0 {
		s += " (" + strings.Join(slices.Sorted(maps.Keys(names)), ", ") + ")"
	}
	if ran > 0 {
		s += fmt.Sprintf(", %.0f s", seconds/float64(ran))
	}
	if len(errs) > 0 {
		s += fmt.Sprintf("; %d run(s) in error: %s", len(errs), errs[0])
	}
	return s
}

// describeUpstream says what one upstream run did: its FAILed tests, or
// that every test passed.
func describeUpstream(policy string, up *upstreamRun) string {
	switch {
	case up.Error != "":
		return fmt.Sprintf("%s: ERROR %s", policy, up.Error)
	case len(up.Failed) == 0:
		return fmt.Sprintf("%s: %d/%d PASS (%.0f s)", policy, len(up.Tests), len(up.Tests), up.Seconds)
	}
	return fmt.Sprintf("%s: %d/%d PASS, FAIL %s (%.0f s)", policy, len(up.Tests)-len(up.Failed), len(up.Tests), strings.Join(up.Failed, ", "), up.Seconds)
}

// faultTable is table.json.
type faultTable struct {
	Measured    string     `json:"measured"`
	Environment string     `json:"environment"`
	Tolerance   float64    `json:"tolerance"`
	Alpha       float64    `json:"alpha"`
	Beta        float64    `json:"beta"`
	Rows        []faultRow `json:"rows"`
}

// mergeFaultRows returns the rows of the table.json in dir that this run
// did not redo, with rows, in the catalogue's order; correct-mesh rows of
// other scenario sets (other batches) stay, after the faults. With
// addRuns, a row this run redid keeps the old row's runs before its own
// when both ran the same scenarios under the same grant policy: repeats
// measured in several sittings add up to one catch rate.
func mergeFaultRows(dir string, rows []faultRow, addRuns bool) ([]faultRow, error) {
	data, err := os.ReadFile(filepath.Join(dir, "table.json"))
	if errors.Is(err, os.ErrNotExist) {
		return rows, nil
	}
	if err != nil {
		return nil, fmt.Errorf("merge fault table: %w", err)
	}
	var old faultTable
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, fmt.Errorf("merge fault table: read %s: %w", filepath.Join(dir, "table.json"), err)
	}
	byName := map[string]faultRow{}
	var corrects []faultRow
	key := func(r faultRow) string { return strings.Join(r.Scenarios, ",") }
	for _, r := range old.Rows {
		if r.Fault == correctMesh {
			corrects = append(corrects, r)
		} else {
			byName[r.Fault] = r
		}
	}
	same := func(a, b faultRow) bool { return key(a) == key(b) && a.GrantPolicy == b.GrantPolicy }
	for _, r := range rows {
		if r.Fault != correctMesh {
			if o, ok := byName[r.Fault]; ok && addRuns && same(o, r) {
				r.Runs = append(slices.Clone(o.Runs), r.Runs...)
			}
			byName[r.Fault] = r
			continue
		}
		for _, o := range corrects {
			if addRuns && same(o, r) {
				r.Runs = append(slices.Clone(o.Runs), r.Runs...)
			}
		}
		corrects = slices.DeleteFunc(corrects, func(c faultRow) bool { return key(c) == key(r) })
		corrects = append(corrects, r)
	}
	var out []faultRow
	for _, f := range faultcatalog.All() {
		if r, ok := byName[f.Name]; ok {
			out = append(out, r)
		}
	}
	// A correct-mesh row whose scenarios all ran again on the correct
	// mesh in newer rows is superseded.
	newer := map[string]bool{}
	var kept []faultRow
	for i := len(corrects) - 1; i >= 0; i-- {
		r := corrects[i]
		covered := true
		for _, sc := range r.Scenarios {
			covered = covered && newer[sc]
		}
		if covered && len(kept) > 0 {
			continue
		}
		for _, sc := range r.Scenarios {
			newer[sc] = true
		}
		kept = append([]faultRow{r}, kept...)
	}
	return append(out, kept...), nil
}

// writeFaultTable writes doc as table.json and table.md.
func writeFaultTable(dir string, doc faultTable) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write fault table: %w", err)
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write fault table: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "table.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write fault table: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Faults caught by gammaproof's suite\n\n")
	fewest, most := runsPerRow(doc.Rows)
	runs := fmt.Sprint(most)
	if fewest != most {
		runs = fmt.Sprintf("%d to %d", fewest, most)
	}
	fmt.Fprintf(&b, "Table written %s on the %s cluster; %s run(s) per row (each row's count is in its verdict column); tolerance %.2f, α %g, β %g.\n", doc.Measured, doc.Environment, runs, doc.Tolerance, doc.Alpha, doc.Beta)
	fmt.Fprintf(&b, "Each row: `make faults-batch FAULTS=NAME FAULT_REPEATS=N` (mk/faults.mk: `bin/gammaproof-e2e.test -test.run TestFaults --env=local --faults=NAME --fault-repeats=N --faults-merge --faults-upstream=bin/gammaproof-upstream.test`; `FAULTS_ADD_RUNS=1` adds `--faults-add-runs`, which adds the new runs to a row's earlier ones); rows were measured in batches, each batch with its own correct-mesh row, and `measured` is when a row's last runs ended.\n")
	fmt.Fprintf(&b, "Verdicts: FAIL / INCONCLUSIVE / PASS / ERROR over the runs; requests and seconds are per run (mean).\n\n")
	fmt.Fprintf(&b, "| fault | statistical | scenarios | ours: FAIL / INCONCLUSIVE / PASS / ERROR | requests | seconds | upstream | measured |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, r := range doc.Rows {
		measured := r.Measured
		if measured == "" {
			measured = "—"
		}
		if len(r.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | %v | — | not run: %s | — | — | not run | %s |\n", r.Fault, r.Statistical, r.Gap, measured)
			continue
		}
		count := map[verdict.Verdict]int{}
		var req, sec float64
		for _, run := range r.Runs {
			count[run.Verdict]++
			req += float64(run.Requests)
			sec += run.Seconds
		}
		n := float64(len(r.Runs))
		fmt.Fprintf(&b, "| %s | %v | %s | %d / %d / %d / %d | %.0f | %.1f | %s | %s |\n", r.Fault, r.Statistical, strings.Join(r.Scenarios, ", "),
			count[verdict.Fail], count[verdict.Inconclusive], count[verdict.Pass], count[verdict.Error], req/n, sec/n, r.Upstream, measured)
	}
	fmt.Fprintf(&b, "\nThe upstream column: upstream's own mesh conformance tests (sigs.k8s.io/gateway-api/conformance, run unchanged by suite/upstream/runner with profiles MESH-HTTP and MESH-GRPC and gammaproof's features, as hack/conformance.sh does) on the same faulty mesh, right after ours (`--faults-upstream=bin/gammaproof-upstream.test`). A run counts as caught when a test FAILs that PASSes on the correct mesh under the same grant policy; the tests are named. The correct mesh's row lists upstream's own verdicts per grant policy.\n")
	if err := os.WriteFile(filepath.Join(dir, "table.md"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write fault table: %w", err)
	}
	return nil
}

// runsPerRow is the fewest and the most runs of the rows that ran.
func runsPerRow(rows []faultRow) (fewest, most int) {
	for _, r := range rows {
		if len(r.Runs) == 0 {
			continue
		}
		if fewest == 0 || len(r.Runs) < fewest {
			fewest = len(r.Runs)
		}
		most = max(most, len(r.Runs))
	}
	return fewest, most
}

// correctUpstream summarises upstream's verdicts on the correct mesh over
// its runs: per grant policy (the prefix of a test's key), each distinct
// outcome with how many runs had it.
func correctUpstream(runs []faultRun) string {
	outcomes := map[string]map[string]int{} // policy -> outcome -> runs
	var errs []string
	ran := 0
	for _, run := range runs {
		up := run.Upstream
		if up == nil {
			continue
		}
		ran++
		if up.Error != "" {
			errs = append(errs, up.Error)
		}
		tests := map[string]int{}
		failed := map[string][]string{}
		for key, v := range up.Tests {
			policy, name, _ := strings.Cut(key, "/")
			tests[policy]++
			if v == verdict.Fail {
				failed[policy] = append(failed[policy], name)
			}
		}
		for policy, n := range tests {
			slices.Sort(failed[policy])
			o := fmt.Sprintf("%d/%d PASS", n-len(failed[policy]), n)
			if len(failed[policy]) > 0 {
				o += ", FAIL " + strings.Join(failed[policy], ", ")
			}
			if outcomes[policy] == nil {
				outcomes[policy] = map[string]int{}
			}
			outcomes[policy][o]++
		}
	}
	if ran == 0 {
		return "not run"
	}
	var parts []string
	for _, policy := range slices.Sorted(maps.Keys(outcomes)) {
		for _, o := range slices.Sorted(maps.Keys(outcomes[policy])) {
			parts = append(parts, fmt.Sprintf("%s: %s (%d of %d runs)", policy, o, outcomes[policy][o], ran))
		}
	}
	if len(errs) > 0 {
		parts = append(parts, fmt.Sprintf("%d run(s) in error: %s", len(errs), errs[0]))
	}
	return strings.Join(parts, "; ")
}

// TestMergeFaultRows: a batch replaces the rows it redid and keeps the
// others; with addRuns the runs of a redone row add up, unless it ran
// other scenarios or under another grant policy.
func TestMergeFaultRows(t *testing.T) {
	run := func(v verdict.Verdict) faultRun { return faultRun{Verdict: v} }
	row := func(fault, policy string, scenarios []string, runs ...faultRun) faultRow {
		return faultRow{faultEntry: faultEntry{Fault: fault, Scenarios: scenarios}, GrantPolicy: policy, Runs: runs}
	}
	weight, ports := []string{"mesh-weight"}, []string{"mesh-ports"}
	old := []faultRow{
		row("split-skew-8", "spec", weight, run(verdict.Fail)),
		row("parentref-port-ignored", "spec", ports, run(verdict.Fail)),
		row("timeout-ignored", "spec", []string{"timeouts"}, run(verdict.Fail)),
		row(correctMesh, "", weight, run(verdict.Pass)),
	}
	batch := []faultRow{
		row("split-skew-8", "spec", weight, run(verdict.Fail), run(verdict.Inconclusive)),
		row("parentref-port-ignored", "strict", ports, run(verdict.Fail)),
		row(correctMesh, "", weight, run(verdict.Pass)),
	}
	tests := []struct {
		name    string
		addRuns bool
		want    map[string]int // runs per row; correct mesh by its name
	}{
		{"replace", false, map[string]int{"split-skew-8": 2, "parentref-port-ignored": 1, "timeout-ignored": 1, correctMesh: 1}},
		{"add runs", true, map[string]int{"split-skew-8": 3, "parentref-port-ignored": 1, "timeout-ignored": 1, correctMesh: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeFaultTable(dir, faultTable{Environment: "local", Rows: old}); err != nil {
				t.Fatal(err)
			}
			got, err := mergeFaultRows(dir, slices.Clone(batch), tt.addRuns)
			if err != nil {
				t.Fatal(err)
			}
			runs := map[string]int{}
			var order []string
			for _, r := range got {
				runs[r.Fault] = len(r.Runs)
				order = append(order, r.Fault)
			}
			if !maps.Equal(runs, tt.want) {
				t.Errorf("runs per row %v, want %v", runs, tt.want)
			}
			if order[len(order)-1] != correctMesh || len(order) != 4 {
				t.Errorf("rows %v: want the 3 faults in the catalogue's order, then one correct-mesh row", order)
			}
			if got[0].Runs[0].Verdict != verdict.Fail || (tt.addRuns && got[0].Runs[2].Verdict != verdict.Inconclusive) {
				t.Errorf("split-skew-8 runs %+v: old runs first, then the batch's", got[0].Runs)
			}
		})
	}
}

// TestCorrectUpstream: upstream's verdicts on the correct mesh are counted
// per grant policy and outcome over the runs.
func TestCorrectUpstream(t *testing.T) {
	up := func(strictFails bool) faultRun {
		tests := map[string]verdict.Verdict{"spec/MeshPorts": verdict.Pass, "strict/MeshPorts": verdict.Pass, "strict/MeshConsumerRoute": verdict.Pass}
		if strictFails {
			tests["strict/MeshConsumerRoute"] = verdict.Fail
		}
		return faultRun{Upstream: &upstreamRun{Tests: tests}}
	}
	got := correctUpstream([]faultRun{up(true), up(false), up(true)})
	want := "spec: 1/1 PASS (3 of 3 runs); strict: 1/2 PASS, FAIL MeshConsumerRoute (2 of 3 runs); strict: 2/2 PASS (1 of 3 runs)"
	if got != want {
		t.Errorf("correctUpstream = %q\nwant %q", got, want)
	}
	if got := correctUpstream([]faultRun{{}}); got != "not run" {
		t.Errorf("no upstream run: %q, want \"not run\"", got)
	}
}
