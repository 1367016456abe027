package report

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

func TestAttachUpstreamAndDisagreements(t *testing.T) {
	run := func(policy string, ours map[string]verdict.Verdict) *Results {
		r := &Results{Run: Run{GrantPolicy: policy}}
		for _, name := range slices.Sorted(maps.Keys(ours)) {
			r.Scenarios = append(r.Scenarios, Scenario{Name: "s-" + name, UpstreamTest: name, Verdict: ours[name]})
		}
		r.Scenarios = append(r.Scenarios, Scenario{Name: "own", Verdict: verdict.Fail})
		return r
	}
	for _, tc := range []struct {
		name     string
		policy   string
		ours     map[string]verdict.Verdict
		upstream map[string]verdict.Verdict
		want     []string
	}{
		{"agree", "spec",
			map[string]verdict.Verdict{"MeshBasic": verdict.Pass, "MeshTrafficSplit": verdict.Fail},
			map[string]verdict.Verdict{"MeshBasic": verdict.Pass, "MeshTrafficSplit": verdict.Fail}, nil},
		{"ours passes, upstream fails", "spec",
			map[string]verdict.Verdict{"MeshBasic": verdict.Pass},
			map[string]verdict.Verdict{"MeshBasic": verdict.Fail}, []string{"s-MeshBasic: ours PASS, upstream's MeshBasic FAIL"}},
		{"ours fails, upstream passes", "spec",
			map[string]verdict.Verdict{"MeshTrafficSplit": verdict.Fail},
			map[string]verdict.Verdict{"MeshTrafficSplit": verdict.Pass}, []string{"s-MeshTrafficSplit: ours FAIL, upstream's MeshTrafficSplit PASS"}},
		{"undecided sides are not compared", "spec",
			map[string]verdict.Verdict{"MeshBasic": verdict.Inconclusive, "MeshTrafficSplit": verdict.Pass, "MeshPorts": verdict.Skip},
			map[string]verdict.Verdict{"MeshBasic": verdict.Pass, "MeshTrafficSplit": verdict.Skip, "MeshPorts": verdict.Fail}, nil},
		{"strict explains the consumer route", "strict",
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Pass},
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Fail}, nil},
		{"strict explains only that direction", "strict",
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Fail},
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Pass}, []string{"s-MeshConsumerRoute: ours FAIL"}},
		{"spec does not explain the consumer route", "spec",
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Pass},
			map[string]verdict.Verdict{"MeshConsumerRoute": verdict.Fail}, []string{"s-MeshConsumerRoute: ours PASS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.policy, tc.ours)
			AttachUpstream(r, tc.upstream)
			for _, s := range r.Scenarios {
				v, ok := tc.upstream[s.UpstreamTest]
				switch {
				case !ok && s.Upstream != nil:
					t.Errorf("%s: upstream verdict %+v attached without one", s.Name, s.Upstream)
				case ok && (s.Upstream == nil || s.Upstream.Verdict != v || s.Upstream.Test != s.UpstreamTest):
					t.Errorf("%s: upstream %+v, want %s %s", s.Name, s.Upstream, s.UpstreamTest, v)
				}
			}
			got := Disagreements(r)
			if len(got) != len(tc.want) {
				t.Fatalf("Disagreements = %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("Disagreements[%d] = %q, want %q…", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReadUpstreamVerdicts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json, errHas string
	}{
		{"ok", `{"MeshBasic": "PASS", "MeshConsumerRoute": "FAIL", "MeshPorts": "SKIP", "HTTPRouteSimpleSameNamespace": "SKIP"}`, ""},
		{"a gateway test ran", `{"MeshBasic": "PASS", "HTTPRouteSimpleSameNamespace": "PASS"}`, "HTTPRouteSimpleSameNamespace is PASS, but it is not"},
		{"not upstream's verdict", `{"MeshBasic": "INCONCLUSIVE"}`, `"INCONCLUSIVE"`},
		{"not JSON", `MeshBasic: PASS`, "parse upstream verdicts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(p, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadUpstreamVerdicts(p)
			if tc.errHas == "" {
				if err != nil || got["MeshConsumerRoute"] != verdict.Fail || len(got) != 3 {
					t.Errorf("ReadUpstreamVerdicts = %v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ReadUpstreamVerdicts: %v, want an error containing %q", err, tc.errHas)
			}
		})
	}
}

func TestValidateUpstreamField(t *testing.T) {
	r := fixture(t, false)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Scenarios {
		if s.Upstream != nil {
			s.Upstream.Test = "MeshOther"
			break
		}
	}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "upstream.test") {
		t.Errorf("Validate with a mismatched upstream test: %v", err)
	}
}

// TestCommittedResultsAgreeWithUpstream fails if any committed results.json
// (published reports, golden files) shows one of our verdicts beside a
// different, unexplained verdict of upstream's from the same run.
func TestCommittedResultsAgreeWithUpstream(t *testing.T) {
	var files []string
	root := repo.Root()
	for _, dir := range []string{filepath.Join(root, "reports"), "testdata"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() == "latest" && d.IsDir() {
				return filepath.SkipDir // a local run's output, not committed
			}
			if d.Name() == ResultsFile && !strings.Contains(p, string(filepath.Separator)+"fuzz"+string(filepath.Separator)) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	withUpstream := 0
	for _, p := range files {
		r, err := ReadResults(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, s := range r.Scenarios {
			if s.Upstream != nil {
				withUpstream++
				break
			}
		}
		for _, d := range Disagreements(r) {
			t.Errorf("%s: %s", p, d)
		}
	}
	if withUpstream == 0 {
		t.Errorf("none of %v carries upstream's verdicts: the agreement check checks nothing", files)
	}
}
