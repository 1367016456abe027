package report

import (
	"testing"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestValidateNamesFirstBadField breaks one field of a valid document at a
// time and checks that Validate names it, with its message; a field whose
// check comes earlier (texts before statistics before scenarios) wins.
func TestValidateNamesFirstBadField(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(r *Results)
		want  string
	}{
		{"apiVersion", func(r *Results) { r.APIVersion = "v9" }, "apiVersion: is \"v9\", want \"gammaproof.io/v1alpha1\""},
		{"kind", func(r *Results) { r.Kind = "Report" }, "kind: is \"Report\", want \"Results\""},
		{"implementation", func(r *Results) { r.Run.Implementation.Name, r.Run.Implementation.Project = "", "" }, "run.implementation: needs a name or a project"},
		{"environment", func(r *Results) { r.Run.Environment = "moon" }, "run.environment: is \"moon\", want local, kind or existing"},
		{"grant policy", func(r *Results) { r.Run.GrantPolicy = "lax" }, "run.grantPolicy: is \"lax\", want spec or strict"},
		{"control character", func(r *Results) { r.Run.Implementation.Version = "v1\n" }, "run.implementation.version: \"v1\\n\" holds a control character"},
		{"contact", func(r *Results) { r.Run.Implementation.Contact = []string{"a", "b\x00"} }, "run.implementation.contact[1]: \"b\\x00\" holds a control character"},
		{"texts in sorted order", func(r *Results) { r.Run.Mode, r.Scenarios[1].UpstreamTest = "m\t", "x\ty" }, "run.mode: \"m\\t\" holds a control character"},
		{"statistics", func(r *Results) { r.Run.Statistics.Delta = 1 }, "run.statistics: alpha, beta and delta must be in (0, 1), got 1e-06, 0.001, 1"},
		{"empty name", func(r *Results) { r.Scenarios[3].Name = "" }, "scenarios[3].name: is empty"},
		{"profile", func(r *Results) { r.Scenarios[2].Profile = "fast" }, "scenarios[2].profile: is \"fast\", want one of MESH-HTTP, MESH-GRPC, gammaproof"},
		{"scenario verdict", func(r *Results) { r.Scenarios[2].Verdict = "MAYBE" }, "scenarios[2].verdict: is \"MAYBE\", want one of PASS, FAIL, INCONCLUSIVE, ERROR, SKIP"},
		{"upstream test", func(r *Results) { r.Scenarios[2].Upstream.Test = "MeshOther" }, "scenarios[2].upstream.test: is \"MeshOther\", want the scenario's upstreamTest \"MeshHTTPRouteWeight\""},
		{"upstream verdict", func(r *Results) { r.Scenarios[2].Upstream.Verdict = verdict.Inconclusive }, "scenarios[2].upstream.verdict: is \"INCONCLUSIVE\", want PASS, FAIL or SKIP"},
		{"check kind", func(r *Results) { r.Scenarios[2].Checks[0].Kind = "guess" }, "scenarios[2].checks[0].kind: is \"guess\", want split, statusShare or exact"},
		{"check verdict", func(r *Results) { r.Scenarios[2].Checks[0].Verdict = "MAYBE" }, "scenarios[2].checks[0].verdict: is \"MAYBE\", want one of PASS, FAIL, INCONCLUSIVE, ERROR, SKIP"},
		{"requests", func(r *Results) { r.Scenarios[2].Checks[0].Requests = -1 }, "scenarios[2].checks[0].requests: is negative"},
		{"budget", func(r *Results) { r.Scenarios[2].Checks[0].BudgetRequests = -1 }, "scenarios[2].checks[0].budgetRequests: is negative"},
		{"tolerated", func(r *Results) { r.Scenarios[2].Checks[0].Tolerated = map[string]int{"reset": -2, "refused": -1} }, "scenarios[2].checks[0].tolerated[\"refused\"]: is negative"},
		{"expected share", func(r *Results) { r.Scenarios[2].Checks[0].Categories[1].Expected = 1.5 }, "scenarios[2].checks[0].categories[1].expected: is 1.5, want a share in [0, 1]"},
		{"count", func(r *Results) { r.Scenarios[2].Checks[0].Categories[0].Count = -1 }, "scenarios[2].checks[0].categories[0].count: is negative"},
		{"interval", func(r *Results) { r.Scenarios[2].Checks[0].Categories[0].Interval = &Interval{Lo: 0.6, Hi: 0.4} }, "scenarios[2].checks[0].categories[0].interval: [0.6, 0.4] is not within [0, 1]"},
		{"scenario before its checks", func(r *Results) {
			r.Scenarios[2].Checks[0].Requests = -1
			r.Scenarios[2].Verdict = "MAYBE"
		}, "scenarios[2].verdict: is \"MAYBE\", want one of PASS, FAIL, INCONCLUSIVE, ERROR, SKIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fixture(t, false)
			if err := r.Validate(); err != nil {
				t.Fatalf("fixture: %v", err)
			}
			tt.spoil(r)
			err := r.Validate()
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate() = %v, want %s", err, tt.want)
			}
		})
	}
}
