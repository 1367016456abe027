// Package ocplot draws the operating characteristic of a split test
// ([stats.OCCurve]) as a self-contained SVG chart and as a Markdown table,
// for docs/statistics.md and the HTML report. It has no dependencies
// beyond the standard library: the SVG is written by hand.
package ocplot

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/gammaproof/gammaproof/suite/stats"
)

// Chart geometry, in SVG user units.
const (
	width    = 640
	height   = 520
	left     = 64
	right    = 616
	probTop  = 100
	probBot  = 320
	meanTop  = 374
	meanBot  = 474
	axisText = 12
)

// Series colours: PASS green, FAIL red, INCONCLUSIVE amber.
var series = []struct {
	name, colour string
	value        func(stats.OCPoint) float64
}{
	{"P(PASS)", "#1a7f37", func(p stats.OCPoint) float64 { return p.Pass }},
	{"P(FAIL)", "#cf222e", func(p stats.OCPoint) float64 { return p.Fail }},
	{"P(INCONCLUSIVE)", "#bf8700", func(p stats.OCPoint) float64 { return p.Inconclusive }},
}

// Split names a two-backend split in points, e.g. "90/10".
func Split(expected float64) string {
	return fmt.Sprintf("%g/%g", math.Round(100*expected), math.Round(100*(1-expected)))
}

// SVG draws c: P(PASS), P(FAIL) and P(INCONCLUSIVE) against the true
// deviation in points (solid where the larger backend gets less than
// expected, dashed where it gets more), and below them the mean number of
// requests. The chart scales to its container (viewBox, width 100%) and
// carries a title and description for screen readers.
func SVG(c stats.OCCurve) []byte {
	split := Split(c.Expected)
	maxDev := 0.0
	for _, pt := range c.Below {
		maxDev = math.Max(maxDev, math.Abs(pt.Deviation))
	}
	maxDev = math.Max(maxDev, 1)
	maxMean := 0.0
	for _, pts := range [][]stats.OCPoint{c.Below, c.Above} {
		for _, pt := range pts {
			maxMean = math.Max(maxMean, pt.MeanN)
		}
	}
	maxMean = niceCeil(maxMean)
	x := func(dev float64) float64 { return left + (right-left)*math.Abs(dev)/maxDev }
	yProb := func(p float64) float64 { return probBot - (probBot-probTop)*p }
	yMean := func(n float64) float64 { return meanBot - (meanBot-meanTop)*n/maxMean }

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := fmt.Sprintf("Operating characteristic of the %s split test", split)
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx" role="img" aria-labelledby="oc-%s-title oc-%s-desc" font-family="system-ui, sans-serif" font-size="%d">`+"\n",
		width, height, width, id(split), id(split), axisText)
	p(`<title id="oc-%s-title">%s</title>`+"\n", id(split), html.EscapeString(title))
	p(`<desc id="oc-%s-desc">%s</desc>`+"\n", id(split), html.EscapeString(describe(c)))
	p(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	p(`<text x="%d" y="20" font-size="15" font-weight="600">%s</text>`+"\n", left, html.EscapeString(title))
	p(`<text x="%d" y="38" fill="#57606a">α = %g, β = %g, δ = %g points, budget %d requests, decided every %d requests</text>`+"\n",
		left, c.Params.Alpha, c.Params.Beta, 100*c.Params.Delta, c.Params.Budget, c.Params.Batch)

	// Legend.
	lx := float64(left)
	for _, s := range series {
		p(`<line x1="%.1f" y1="56" x2="%.1f" y2="56" stroke="%s" stroke-width="2.5"/>`, lx, lx+22, s.colour)
		p(`<text x="%.1f" y="60">%s</text>`+"\n", lx+27, s.name)
		lx += 27 + 8*float64(len(s.name)) + 16
	}
	p(`<text x="%d" y="78" fill="#57606a">solid: the %s backend gets less than its share · dashed: it gets more</text>`+"\n",
		left, fmt.Sprintf("%g%%", math.Round(100*c.Expected)))

	// The indifference zone and the tolerance δ.
	delta := 100 * c.Params.Delta
	if delta <= maxDev {
		p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f6f8fa"/>`+"\n", x(0), probTop, x(delta)-x(0), probBot-probTop)
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#57606a">indifference zone</text>`+"\n", (x(0)+x(delta))/2, probTop-5)
		for _, y := range [][2]int{{probTop, probBot}, {meanTop, meanBot}} {
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#57606a" stroke-dasharray="2 3"/>`+"\n", x(delta), y[0], x(delta), y[1])
		}
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#57606a">δ</text>`+"\n", x(delta), probTop-5)
	}

	// Axes and grid.
	for d := 0.0; d <= maxDev+1e-9; d++ {
		for _, y := range [][2]int{{probTop, probBot}, {meanTop, meanBot}} {
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d0d7de" stroke-width="0.5"/>`, x(d), y[0], x(d), y[1])
		}
		p(`<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(d), probBot+16, d)
		p(`<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(d), meanBot+16, d)
	}
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d7de" stroke-width="0.5"/>`, left, yProb(v), right, yProb(v))
		p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, yProb(v)+4, v)
	}
	for _, v := range []float64{0, maxMean / 2, maxMean} {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d0d7de" stroke-width="0.5"/>`, left, yMean(v), right, yMean(v))
		p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, yMean(v)+4, v)
	}
	p(`<text x="%d" y="%d" text-anchor="middle">true deviation of the split (points)</text>`+"\n", (left+right)/2, probBot+34)
	p(`<text x="%d" y="%d" font-weight="600">mean requests to a decision</text>`+"\n", left, meanTop-10)
	p(`<text x="%d" y="%d" text-anchor="middle">true deviation of the split (points)</text>`+"\n", (left+right)/2, meanBot+34)
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#57606a"/>`+"\n", left, probTop, right-left, probBot-probTop)
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#57606a"/>`+"\n", left, meanTop, right-left, meanBot-meanTop)

	// Data.
	for _, dir := range []struct {
		pts  []stats.OCPoint
		dash string
	}{{c.Below, ""}, {c.Above, ` stroke-dasharray="6 4"`}} {
		for _, s := range series {
			p(`<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.colour, dir.dash,
				points(dir.pts, x, func(pt stats.OCPoint) float64 { return yProb(s.value(pt)) }))
		}
		p(`<polyline fill="none" stroke="#0969da" stroke-width="2"%s points="%s"/>`+"\n", dir.dash,
			points(dir.pts, x, func(pt stats.OCPoint) float64 { return yMean(pt.MeanN) }))
	}
	p("</svg>\n")
	return []byte(b.String())
}

func points(pts []stats.OCPoint, x func(float64) float64, y func(stats.OCPoint) float64) string {
	parts := make([]string, len(pts))
	for i, pt := range pts {
		parts[i] = fmt.Sprintf("%.1f,%.1f", x(pt.Deviation), y(pt))
	}
	return strings.Join(parts, " ")
}

// id makes a split usable in an XML id: "90/10" → "90-10".
func id(split string) string { return strings.ReplaceAll(split, "/", "-") }

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

// describe says in words where the line is, for the chart's description.
func describe(c stats.OCCurve) string {
	return strings.Join(Findings(c), " ")
}
