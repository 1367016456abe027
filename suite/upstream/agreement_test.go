package upstream_test

import (
	"path/filepath"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestPublishedAgreement checks the published runs of our suite,
// reports/v1.6/gammaproof/{spec,strict}/results.json: upstream's verdicts
// from the same run sit beside ours on every scenario that maps to an
// upstream test of a mesh profile, they are the ones in upstream's
// published verdicts file of that mode, and the two agree: differences
// only where the grant policy explains them (strict: MeshConsumerRoute).
func TestPublishedAgreement(t *testing.T) {
	dir := filepath.Join(repo.Root(), "reports", "v1.6", "gammaproof")
	for _, tt := range []struct{ policy, mode string }{{"spec", "default"}, {"strict", "strict-grants"}} {
		t.Run(tt.policy, func(t *testing.T) {
			r, err := report.ReadResults(filepath.Join(dir, tt.policy, report.ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			files, err := filepath.Glob(filepath.Join(dir, "upstream", "*-"+tt.mode+"-verdicts.json"))
			if err != nil || len(files) != 1 {
				t.Fatalf("upstream's verdicts of mode %s: %q (%v), want one file", tt.mode, files, err)
			}
			published, err := report.ReadUpstreamVerdicts(files[0])
			if err != nil {
				t.Fatal(err)
			}
			compared := 0
			for _, s := range r.Scenarios {
				if s.UpstreamTest == "" {
					continue
				}
				u := s.Upstream
				if u == nil {
					t.Errorf("%s (upstream %s): no upstream verdict beside ours (publish with --upstream-verdicts)", s.Name, s.UpstreamTest)
					continue
				}
				compared++
				if u.Verdict != published[s.UpstreamTest] {
					t.Errorf("%s: upstream's verdict %s, but %s says %s", s.Name, u.Verdict, filepath.Base(files[0]), published[s.UpstreamTest])
				}
				if s.Verdict != u.Verdict && s.Verdict != verdict.Skip {
					want := tt.policy == "strict" && s.UpstreamTest == "MeshConsumerRoute"
					if !want || u.Deviation == "" {
						t.Errorf("%s: ours %s, upstream's %s %s, deviation %q", s.Name, s.Verdict, u.Test, u.Verdict, u.Deviation)
					}
				}
			}
			if bad := report.Disagreements(r); len(bad) > 0 {
				t.Errorf("disagreements: %q", bad)
			}
			if compared == 0 {
				t.Error("no scenario compared with upstream")
			}
		})
	}
}
