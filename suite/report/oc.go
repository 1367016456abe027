package report

import (
	"fmt"
	"html/template"
	"sync"

	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/stats/ocplot"
)

// ocShares are the splits whose operating characteristic the report
// draws, as [stats.DefaultCurves]: the seed's 90/10 and mesh-weight's 70/30.
var ocShares = []float64{0.9, 0.7}

// maxOCBudget bounds the budget the exact computation is run for: its
// time grows with the budget (about 0.4 s for both charts at 20000).
const maxOCBudget = 5 * stats.DefaultBudget

// ocCache keeps the charts of the few parameter sets a process renders.
var ocCache = struct {
	sync.Mutex
	m map[stats.Params]ocResult
}{m: map[stats.Params]ocResult{}}

type ocResult struct {
	charts []template.HTML
	err    error
}

// ocCharts draws the exact operating characteristic of the split test at
// the run's α, β, δ and budget (computed once per parameter set) and says
// what the charts show.
func ocCharts(st Statistics) ([]template.HTML, string) {
	p := stats.Params{Alpha: st.Alpha, Beta: st.Beta, Delta: st.Delta, Budget: st.Budget}
	budget := st.Budget
	if budget == 0 {
		budget = stats.DefaultBudget
	}
	if budget > maxOCBudget {
		return nil, fmt.Sprintf("The operating characteristic is not drawn for a budget over %d requests (this run: %d): computing it exactly takes too long.", maxOCBudget, budget)
	}
	ocCache.Lock()
	defer ocCache.Unlock()
	r, ok := ocCache.m[p]
	if !ok {
		r = computeOC(p)
		if len(ocCache.m) < 8 {
			ocCache.m[p] = r
		}
	}
	if r.err != nil {
		return nil, fmt.Sprintf("The operating characteristic could not be computed for this run's parameters: %v.", r.err)
	}
	return r.charts, fmt.Sprintf("How likely each verdict is when a two-backend split is truly off by 0 to 10 points, "+
		"at this run's α = %g, β = %g, δ = %g points and budget of %d requests per test, computed exactly (not simulated). "+
		"Inside the indifference zone (less than δ off) a split may PASS or FAIL: the test promises only that an "+
		"exactly right split FAILs with probability ≤ α and one δ or more off PASSes with probability ≤ β. "+
		"Below each chart: the mean number of requests to a decision.", st.Alpha, st.Beta, 100*st.Delta, budget)
}

func computeOC(p stats.Params) ocResult {
	var curves []stats.OCCurve
	if d := stats.DefaultParams(); p.Alpha == d.Alpha && p.Beta == d.Beta && p.Delta == d.Delta && (p.Budget == 0 || p.Budget == d.Budget) {
		c, err := stats.DefaultCurves()
		if err != nil {
			return ocResult{err: err}
		}
		curves = c
	} else {
		for _, share := range ocShares {
			c, err := stats.Curve(p, share, 10, 0.5)
			if err != nil {
				return ocResult{err: err}
			}
			curves = append(curves, c)
		}
	}
	var out ocResult
	for _, c := range curves {
		// ocplot writes the SVG itself, escaping every text it puts in.
		out.charts = append(out.charts, template.HTML(ocplot.SVG(c))) //nolint:gosec // our own generated SVG
	}
	return out
}
