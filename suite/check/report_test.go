package check

import (
	"reflect"
	"testing"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestReport: what the outcome already knows (tolerated errors and why,
// the budget in requests, bursts) reaches results.json, and a PASS carries
// no error.
func TestReport(t *testing.T) {
	c := scenario.Check{
		Name:    "Service load balancing",
		From:    scenario.Client{Namespace: "default", Pod: "client"},
		Request: scenario.Request{URL: "http://bookstore:8080/"},
		Expect: scenario.Expect{Split: map[string]float64{"v1": 0.5, "v2": 0.5},
			TolerateErrors: []string{"connection refused"}, TolerateReason: "busybox nc backend"},
	}
	bursts := &stats.Bursts{Window: 100, Windows: 17, ChiSquare: 80.1, DF: 16, P: 2.4e-10, Level: 1e-3, Bursty: true}
	tests := []struct {
		name string
		out  Outcome
		want report.Check
	}{
		{
			name: "tolerated",
			out: Outcome{Verdict: verdict.Pass, Reason: "answered", Requests: 3460, Attempts: 1, BudgetRequests: 20000,
				Tolerated: map[string]int{"connection refused": 1533},
				Observed:  sample.Result{Requests: 3460, ByStatus: map[string]int{"200": 1927}, Errors: map[sample.ErrorKind]int{"connection refused": 1533}}},
			want: report.Check{Name: c.Name, Step: "s1", Client: "default/client", URL: c.Request.URL, Kind: report.CheckExact,
				Verdict: verdict.Pass, Expected: "split v1 50% / v2 50%", Observed: "answered", Requests: 3460, Attempts: 1,
				StatusCodes: map[string]int{"200": 1927}, Errors: map[string]int{"connection refused": 1533},
				Tolerated: map[string]int{"connection refused": 1533}, TolerateReason: "busybox nc backend", BudgetRequests: 20000},
		},
		{
			name: "bursty fail",
			out:  Outcome{Verdict: verdict.Fail, Reason: "bursts", Requests: 3000, Attempts: 2, BudgetRequests: 20000, Bursts: bursts},
			want: report.Check{Name: c.Name, Step: "s1", Client: "default/client", URL: c.Request.URL, Kind: report.CheckExact,
				Verdict: verdict.Fail, Expected: "split v1 50% / v2 50%", Observed: "bursts", Error: "bursts", Requests: 3000, Attempts: 2,
				BudgetRequests: 20000, Bursts: bursts},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Report("s1", c, tt.out)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Report =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.out.Tolerated != nil {
				tt.out.Tolerated["connection refused"] = -1
				if got.Tolerated["connection refused"] != 1533 {
					t.Error("the report shares its tolerated counts with the outcome")
				}
			}
		})
	}
}
