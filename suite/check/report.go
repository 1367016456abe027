package check

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Report turns a check's outcome into its entry in results.json.
func Report(step string, c scenario.Check, out Outcome) report.Check {
	var rc report.Check
	switch {
	case out.Split != nil:
		rc = report.SplitCheck(c.Name, report.CheckSplit, *out.Split)
	case out.StatusShare != nil:
		rc = report.SplitCheck(c.Name, report.CheckStatusShare, *out.StatusShare)
	default:
		rc = report.Check{Name: c.Name, Kind: report.CheckExact}
	}
	rc.Step = step
	rc.Client = c.From.Namespace + "/" + c.From.Pod
	rc.URL = c.Request.URL
	rc.Verdict = out.Verdict
	rc.Requests = out.Requests
	rc.Attempts = out.Attempts
	rc.ConvergenceSeconds = out.Seconds
	rc.Alpha, rc.Beta = out.Alpha, out.Beta
	rc.Expected = describeExpect(c.Expect)
	rc.Observed = out.Reason
	rc.StatusCodes = out.Observed.ByStatus
	if len(out.Observed.Errors) > 0 {
		rc.Errors = map[string]int{}
		for k, v := range out.Observed.Errors {
			rc.Errors[string(k)] = v
		}
	}
	if len(out.Tolerated) > 0 {
		rc.Tolerated = maps.Clone(out.Tolerated)
		rc.TolerateReason = c.Expect.TolerateReason
	}
	rc.BudgetRequests = out.BudgetRequests
	if out.Bursts != nil {
		b := *out.Bursts
		rc.Bursts = &b
	}
	if out.Verdict != verdict.Pass {
		rc.Error = out.Reason
	}
	return rc
}

// describeExpect says in words what a check expects, for reports.
func describeExpect(e scenario.Expect) string {
	var parts []string
	if len(e.Split) > 0 {
		names, shares := positiveShares(e.Split)
		parts = append(parts, "split "+describeShares(names, shares))
	}
	for _, z := range e.Zero {
		parts = append(parts, "no request to "+z)
	}
	if e.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d on every response", e.Status))
	}
	if len(e.StatusShare) > 0 {
		names, shares := positiveShares(e.StatusShare)
		parts = append(parts, "status "+describeShares(names, shares))
	}
	parts = append(parts, describeHeaders("response header", e.ResponseHeaders)...)
	parts = append(parts, describeHeaders("request header at the backend", e.RequestHeaders)...)
	if e.Path != "" {
		parts = append(parts, "path "+e.Path+" at the backend")
	}
	if e.Location != "" {
		parts = append(parts, "Location "+e.Location)
	}
	if e.MaxLatency.Duration > 0 {
		parts = append(parts, fmt.Sprintf("latency ≤ %v", e.MaxLatency.Duration))
	}
	if e.MinLatency.Duration > 0 {
		parts = append(parts, fmt.Sprintf("median latency ≥ %v", e.MinLatency.Duration))
	}
	return strings.Join(parts, "; ")
}

func describeHeaders(what string, m map[string]*string) []string {
	var out []string
	for k, v := range m {
		if v == nil {
			out = append(out, fmt.Sprintf("%s %s absent", what, k))
		} else {
			out = append(out, fmt.Sprintf("%s %s: %s", what, k, *v))
		}
	}
	sort.Strings(out)
	return out
}
