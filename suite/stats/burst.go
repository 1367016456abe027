package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultBurstLevel is the level of [BurstTest] as suite/check uses it:
// the probability that requests routed independently are said to come in
// bursts.
const DefaultBurstLevel = 1e-3

// BurstMinRequests is how many requests [BurstTest] needs to tell bursts
// from chance: 30 windows of 100. suite/check keeps sampling after a FAIL
// that came sooner, to that many requests, before it says whether the FAIL
// is a split that is off or answers that come in bursts.
const BurstMinRequests = 3000

// burstWindows are the window sizes, in requests, over which BurstTest
// compares shares: bursts of 50–200 requests show in windows of 100, longer
// drifts in windows of 500.
var burstWindows = []int{100, 500}

// Bursts is the outcome of [BurstTest].
type Bursts struct {
	// Window is the size, in requests, of the windows of the most
	// significant scale (windows are whole batches, so about this size),
	// and Windows how many there were.
	Window  int `json:"window"`
	Windows int `json:"windows"`
	// ChiSquare is Pearson's statistic of homogeneity across those
	// windows, with DF degrees of freedom.
	ChiSquare float64 `json:"chiSquare"`
	DF        int     `json:"df"`
	// P is the p-value, Bonferroni-adjusted over the window sizes tried.
	P float64 `json:"p"`
	// Level is the level the test was run at; Bursty is P < Level.
	Level  float64 `json:"level"`
	Bursty bool    `json:"bursty"`
}

// String says the finding in a few words, e.g. "dispersion test over 17
// windows of ~100 requests: χ² = 80.1, 16 df, p = 2.4e-10".
func (b Bursts) String() string {
	return fmt.Sprintf("dispersion test over %d windows of ~%d requests: χ² = %.1f, %d df, p = %.2g", b.Windows, b.Window, b.ChiSquare, b.DF, b.P)
}

// BurstTest tests whether the batches of a split test (counts per
// category, in the order they were sent) are what independent routing
// gives: every request going to category j with the same probability,
// whatever came before. Consecutive batches are pooled into windows of
// about 100 and about 500 requests, and Pearson's chi-square test of
// homogeneity compares the windows' shares with the pooled shares; the
// pooled shares are estimated, so a split that is steadily off is not
// bursty. Shares drawn per block of requests (a balancer that sends runs
// of requests to one backend, or a split that changed while sampling)
// make the windows differ more than chance allows.
//
// The p-value uses the chi-square approximation, adequate at levels
// around 1e-3 with the ≥ 5 expected answers per cell that windows of 100
// requests give a share of 5% or more, and checked by simulation at
// [DefaultBurstLevel] in burst_test.go (including at the sequential test's
// stopping time, which the approximation alone does not cover). It is not
// meant for levels near α = 1e-6. Fewer than two windows, or one category
// only, give P = 1.
func BurstTest(batches [][]int, level float64) Bursts {
	best := Bursts{P: 1, Level: level}
	minP := 1.0
	for _, target := range burstWindows {
		b := homogeneity(windows(batches, target))
		b.Window = target
		if b.DF > 0 && (b.P < minP || best.DF == 0) {
			minP = b.P
			best = b
		}
	}
	best.P = math.Min(1, minP*float64(len(burstWindows)))
	best.Level = level
	best.Bursty = best.P < level
	return best
}

// windows pools consecutive batches until each holds at least target
// requests; a last window under half the target joins the one before.
func windows(batches [][]int, target int) [][]int {
	var out [][]int
	var cur []int
	n := 0
	for _, b := range batches {
		if cur == nil {
			cur = make([]int, len(b))
		}
		for j, c := range b {
			cur[j] += c
			n += c
		}
		if n >= target {
			out = append(out, cur)
			cur, n = nil, 0
		}
	}
	switch {
	case cur == nil:
	case n*2 < target && len(out) > 0:
		last := out[len(out)-1]
		for j, c := range cur {
			last[j] += c
		}
	default:
		out = append(out, cur)
	}
	return out
}

// homogeneity is Pearson's chi-square test that the rows of table share
// one distribution over the columns; columns that are empty throughout do
// not count.
func homogeneity(table [][]int) Bursts {
	if len(table) < 2 {
		return Bursts{P: 1}
	}
	cols := len(table[0])
	colSum := make([]float64, cols)
	total := 0.0
	for _, row := range table {
		for j, c := range row {
			colSum[j] += float64(c)
			total += float64(c)
		}
	}
	used := 0
	for _, s := range colSum {
		if s > 0 {
			used++
		}
	}
	if used < 2 || total == 0 {
		return Bursts{P: 1, Windows: len(table)}
	}
	x2 := 0.0
	for _, row := range table {
		n := 0.0
		for _, c := range row {
			n += float64(c)
		}
		for j, c := range row {
			if colSum[j] == 0 {
				continue
			}
			e := n * colSum[j] / total
			if e > 0 {
				x2 += (float64(c) - e) * (float64(c) - e) / e
			}
		}
	}
	df := (len(table) - 1) * (used - 1)
	p := distuv.ChiSquared{K: float64(df)}.Survival(x2)
	return Bursts{Windows: len(table), ChiSquare: x2, DF: df, P: p}
}
