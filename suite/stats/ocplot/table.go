package ocplot

import (
	"fmt"
	"math"
	"strings"

	"github.com/gammaproof/gammaproof/suite/stats"
)

// Table writes c as a Markdown table: one row per deviation, the
// outcomes' probabilities and the mean requests with the larger backend
// getting less, then more, than expected.
func Table(c stats.OCCurve) string {
	var b strings.Builder
	big := fmt.Sprintf("%g%%", math.Round(100*c.Expected))
	fmt.Fprintf(&b, "| deviation (points) | %s gets less: P(PASS) | P(FAIL) | P(INCONCLUSIVE) | mean requests | %s gets more: P(PASS) | P(FAIL) | P(INCONCLUSIVE) | mean requests |\n", big, big)
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, lo := range c.Below {
		fmt.Fprintf(&b, "| %g | %s | %s | %s | %.0f |", math.Abs(lo.Deviation), Prob(lo.Pass), Prob(lo.Fail), Prob(lo.Inconclusive), lo.MeanN)
		if i < len(c.Above) {
			hi := c.Above[i]
			fmt.Fprintf(&b, " %s | %s | %s | %.0f |\n", Prob(hi.Pass), Prob(hi.Fail), Prob(hi.Inconclusive), hi.MeanN)
		} else {
			b.WriteString(" – | – | – | – |\n")
		}
	}
	return b.String()
}

// Prob formats a probability so both ends stay readable: "0", "3.1e-05",
// "0.524", "1 − 6.6e-07", "1".
func Prob(p float64) string {
	switch {
	case p <= 0:
		return "0"
	case p >= 1:
		return "1"
	case p < 1e-3:
		return fmt.Sprintf("%.1e", p)
	case p > 1-1e-3:
		return fmt.Sprintf("1 − %.1e", 1-p)
	}
	return fmt.Sprintf("%.3f", p)
}

// percent formats a probability between 0.01 and 0.99 as "52%".
func percent(p float64) string { return fmt.Sprintf("%.0f%%", 100*p) }

// Findings says where the line really is, in sentences read off the
// exact curve: how a correct split fares, at which deviation a PASS is a
// coin toss and a FAIL likely, how often and where the test runs out of
// budget, and the miss rate at δ.
func Findings(c stats.OCCurve) []string {
	if len(c.Below) == 0 {
		return nil
	}
	split := Split(c.Expected)
	zero := c.Below[0]
	out := []string{fmt.Sprintf("%s exactly right: PASS with probability %s (FAIL %s ≤ α = %g) after %.0f requests on average.",
		split, Prob(zero.Pass), Prob(zero.Fail), c.Params.Alpha, zero.MeanN)}
	big := fmt.Sprintf("%g%%", math.Round(100*c.Expected))
	for _, dir := range []struct {
		name string
		pts  []stats.OCPoint
	}{{"less", c.Below}, {"more", c.Above}} {
		half, ok := nearest(dir.pts, func(pt stats.OCPoint) float64 { return math.Abs(pt.Pass - 0.5) })
		if !ok || math.Abs(half.Pass-0.5) > 0.2 {
			continue
		}
		s := fmt.Sprintf("The %s backend getting %s: %g points off PASSes %s of the time (FAIL %s, INCONCLUSIVE %s)",
			big, dir.name, math.Abs(half.Deviation), percent(half.Pass), percent(half.Fail), percent(half.Inconclusive))
		if f, ok := first(dir.pts, func(pt stats.OCPoint) bool { return pt.Fail >= 0.7 }); ok {
			s += fmt.Sprintf("; %g points off FAILs %s", math.Abs(f.Deviation), percent(f.Fail))
		}
		if f, ok := first(dir.pts, func(pt stats.OCPoint) bool { return pt.Fail >= 0.99 }); ok {
			s += fmt.Sprintf("; from %g points off FAIL is at least 99%%", math.Abs(f.Deviation))
		}
		out = append(out, s+".")
	}
	worst, _ := nearest(append(append([]stats.OCPoint(nil), c.Below...), c.Above...), func(pt stats.OCPoint) float64 { return -pt.Inconclusive })
	if worst.Inconclusive >= 1e-3 {
		out = append(out, fmt.Sprintf("INCONCLUSIVE (budget of %d requests spent) is likeliest %g points off: %.1f%%, after %.0f requests on average.",
			c.Params.Budget, math.Abs(worst.Deviation), 100*worst.Inconclusive, worst.MeanN))
	}
	delta := 100 * c.Params.Delta
	for _, pts := range [][]stats.OCPoint{c.Below} {
		if at, ok := first(pts, func(pt stats.OCPoint) bool { return math.Abs(pt.Deviation) >= delta-1e-9 }); ok {
			out = append(out, fmt.Sprintf("At δ = %g points PASS is a miss: %s (≤ β = %g).", delta, Prob(at.Pass), c.Params.Beta))
		}
	}
	return out
}

// nearest returns the point minimising key.
func nearest(pts []stats.OCPoint, key func(stats.OCPoint) float64) (stats.OCPoint, bool) {
	var best stats.OCPoint
	found := false
	for _, pt := range pts {
		if !found || key(pt) < key(best) {
			best, found = pt, true
		}
	}
	return best, found
}

// first returns the first point (smallest deviation) where ok holds.
func first(pts []stats.OCPoint, ok func(stats.OCPoint) bool) (stats.OCPoint, bool) {
	for _, pt := range pts {
		if ok(pt) {
			return pt, true
		}
	}
	return stats.OCPoint{}, false
}

// FileName is the name of c's chart in docs/, e.g. "oc-90-10.svg".
func FileName(c stats.OCCurve) string { return "oc-" + id(Split(c.Expected)) + ".svg" }

// Markdown is c's section of docs/statistics.md: a heading, the findings,
// the chart (FileName, next to the page) and the table.
func Markdown(c stats.OCCurve) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", Split(c.Expected))
	for _, f := range Findings(c) {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	fmt.Fprintf(&b, "\n![Operating characteristic of the %s split test](%s)\n\n", Split(c.Expected), FileName(c))
	b.WriteString(Table(c))
	return b.String()
}

// RetryTable writes, as Markdown, the check's P(PASS) and P(FAIL) for a
// split that stays the same deviation off across attempts (see
// [stats.Retried]), the larger backend getting less, after each number of
// attempts.
func RetryTable(c stats.OCCurve, deviations []float64, attempts []int) (string, error) {
	var b strings.Builder
	b.WriteString("| deviation (points) |")
	for _, k := range attempts {
		fmt.Fprintf(&b, " %d attempt%s: P(PASS) | P(FAIL) |", k, map[bool]string{true: "", false: "s"}[k == 1])
	}
	b.WriteString("\n|---:|" + strings.Repeat("---:|---:|", len(attempts)) + "\n")
	for _, d := range deviations {
		fmt.Fprintf(&b, "| %g |", d)
		q := math.Round((c.Expected-d/100)*1e9) / 1e9
		for _, k := range attempts {
			oc, err := stats.Retried(c.Params, c.Expected, q, k)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, " %s | %s |", Prob(oc.Pass), Prob(oc.Fail))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// Section is the generated part of docs/statistics.md for curves: each
// curve's [Markdown], then what retries do to it.
func Section(curves []stats.OCCurve) (string, error) {
	var b strings.Builder
	for _, c := range curves {
		b.WriteString(Markdown(c))
		rt, err := RetryTable(c, []float64{2, 2.5, 3, 3.5, 4, 5}, []int{1, 3, 10})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\nThe check as the suite runs it, %s, when the split stays this far off (the %s backend getting less) and every FAIL is retried while converging:\n\n%s\n",
			Split(c.Expected), fmt.Sprintf("%g%%", math.Round(100*c.Expected)), rt)
	}
	return b.String(), nil
}
