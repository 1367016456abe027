package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// TestPublishedReports checks the committed reports under reports/v1.6:
// each ConformanceReport YAML decodes strictly into the upstream type, and
// its counts are the ones its run's results.json gives.
func TestPublishedReports(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(repo.Root(), "reports", "v1.6", "gammaproof", "*", ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no published results under reports/v1.6/gammaproof/*/ (run `make publish-report`)")
	}
	for _, resultsPath := range dirs {
		dir := filepath.Dir(resultsPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := ReadResults(resultsPath)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, ConformanceFileName(res)))
			if err != nil {
				t.Fatal(err)
			}
			committed, err := DecodeConformance(data)
			if err != nil {
				t.Fatal(err)
			}
			want := Conformance(res)
			if len(committed.ProfileReports) != len(want.ProfileReports) {
				t.Fatalf("%d profiles, results.json gives %d", len(committed.ProfileReports), len(want.ProfileReports))
			}
			for i, p := range committed.ProfileReports {
				w := want.ProfileReports[i]
				if p.Name != w.Name || p.Core.Statistics != w.Core.Statistics {
					t.Errorf("profile %s core %+v, results.json gives %s %+v", p.Name, p.Core.Statistics, w.Name, w.Core.Statistics)
				}
				if (p.Extended == nil) != (w.Extended == nil) || (p.Extended != nil && p.Extended.Statistics != w.Extended.Statistics) {
					t.Errorf("profile %s extended differs from results.json", p.Name)
				}
			}
			// The copy at the top of reports/v1.6/gammaproof is the same file.
			top, err := os.ReadFile(filepath.Join(dir, "..", ConformanceFileName(res)))
			if err != nil || string(top) != string(data) {
				t.Errorf("reports/v1.6/gammaproof/%s is missing or differs from %s (err %v)", ConformanceFileName(res), dir, err)
			}
		})
	}
}
