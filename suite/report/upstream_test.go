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
		name, policy   string
		ours, upstream string // verdicts by upstream test, see verdictsOf
		want           []string
	}{
		{"agree", "spec", "MeshBasic=PASS MeshTrafficSplit=FAIL", "MeshBasic=PASS MeshTrafficSplit=FAIL", nil},
		{"ours passes, upstream fails", "spec", "MeshBasic=PASS", "MeshBasic=FAIL", []string{"s-MeshBasic: ours PASS, upstream's MeshBasic FAIL"}},
		{"ours fails, upstream passes", "spec", "MeshTrafficSplit=FAIL", "MeshTrafficSplit=PASS", []string{"s-MeshTrafficSplit: ours FAIL, upstream's MeshTrafficSplit PASS"}},
		{"undecided sides are not compared", "spec",
			"MeshBasic=INCONCLUSIVE MeshTrafficSplit=PASS MeshPorts=SKIP", "MeshBasic=PASS MeshTrafficSplit=SKIP MeshPorts=FAIL", nil},
		{"strict explains the consumer route", "strict", "MeshConsumerRoute=PASS", "MeshConsumerRoute=FAIL", nil},
		{"strict explains only that direction", "strict", "MeshConsumerRoute=FAIL", "MeshConsumerRoute=PASS", []string{"s-MeshConsumerRoute: ours FAIL"}},
		{"spec does not explain the consumer route", "spec", "MeshConsumerRoute=PASS", "MeshConsumerRoute=FAIL", []string{"s-MeshConsumerRoute: ours PASS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream := verdictsOf(t, tc.upstream)
			r := run(tc.policy, verdictsOf(t, tc.ours))
			AttachUpstream(r, upstream)
			for _, s := range r.Scenarios {
				v, ok := upstream[s.UpstreamTest]
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

// verdictsOf reads "MeshBasic=PASS MeshPorts=SKIP" as a verdict by test.
func verdictsOf(t *testing.T, s string) map[string]verdict.Verdict {
	t.Helper()
	m := map[string]verdict.Verdict{}
	for _, kv := range strings.Fields(s) {
		name, v, _ := strings.Cut(kv, "=")
		if !verdict.Verdict(v).Valid() {
			t.Fatalf("%q: %q is no verdict", kv, v)
		}
		m[name] = verdict.Verdict(v)
	}
	return m
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
