package upstream

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestPublishedUpstreamReports checks upstream's own reports of gammaproof
// under reports/v1.6/gammaproof/upstream/: each report's implied verdicts
// agree with its run's verdicts file, every mesh test ran, everything
// passed under the spec grant policy (mode default), and under strict
// (mode strict-grants) exactly MeshConsumerRoute failed.
func TestPublishedUpstreamReports(t *testing.T) {
	reports, err := filepath.Glob(filepath.Join(repo.Root(), "reports", "v1.6", "gammaproof", "upstream", "*-report.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]bool{}
	for _, path := range reports {
		base := strings.TrimSuffix(path, "-report.yaml")
		mode := base[strings.LastIndex(base, "-")+1:]
		if strings.HasSuffix(base, "-strict-grants") {
			mode = "strict-grants"
		}
		modes[mode] = true
		t.Run(filepath.Base(path), func(t *testing.T) {
			r, err := ReadReport(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Mode != mode {
				t.Errorf("mode %q, file name says %q", r.Mode, mode)
			}
			implied, err := Verdicts(r)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(base + "-verdicts.json")
			if err != nil {
				t.Fatal(err)
			}
			var ran map[string]verdict.Verdict
			if err := json.Unmarshal(data, &ran); err != nil {
				t.Fatal(err)
			}
			for name, v := range implied {
				if ran[name] != v {
					t.Errorf("%s: the report implies %s, the run recorded %s", name, v, ran[name])
				}
			}
			for _, mt := range MeshTests() {
				want := verdict.Pass
				if mode == "strict-grants" && mt.ShortName == "MeshConsumerRoute" {
					want = verdict.Fail // its manifests have no ReferenceGrant
				}
				if ran[mt.ShortName] != want {
					t.Errorf("%s: %s, want %s under mode %s", mt.ShortName, ran[mt.ShortName], want, mode)
				}
			}
		})
	}
	if !modes["default"] || !modes["strict-grants"] {
		t.Errorf("published upstream reports cover modes %v, want default and strict-grants", modes)
	}
}
