package perf

import (
	"fmt"
	"slices"
)

// RPSComparison compares the requests per second of two targets measured in
// the same rounds.
type RPSComparison struct {
	// A and B are the medians over the rounds.
	A, B float64
	// Ratio is B / A of the medians.
	Ratio float64
	// MinRatio and MaxRatio bound the rounds' own B / A.
	MinRatio, MaxRatio float64
	// BAhead counts the rounds in which B had at least A's rate.
	BAhead, Rounds int
	// Verdict is met when B's median is at least A's, missed otherwise.
	Verdict Verdict
}

// CompareRPS compares rounds of b against rounds of a, round i of each
// measured in the same round (so under the same load of the machine): the
// goal "b ≥ a" is met when b's median is at least a's. The rounds' own
// ratios show how far one round may stray from the verdict.
func CompareRPS(a, b []float64) (RPSComparison, error) {
	if len(a) == 0 || len(a) != len(b) {
		return RPSComparison{}, fmt.Errorf("compare requests per second: need the same number of rounds on both sides, have %d and %d", len(a), len(b))
	}
	c := RPSComparison{A: Median(a), B: Median(b), Rounds: len(a)}
	for i := range a {
		if !(a[i] > 0) || !(b[i] >= 0) {
			return RPSComparison{}, fmt.Errorf("compare requests per second: round %d has %g and %g req/s; want positive rates", i+1, a[i], b[i])
		}
		r := b[i] / a[i]
		if i == 0 || r < c.MinRatio {
			c.MinRatio = r
		}
		if i == 0 || r > c.MaxRatio {
			c.MaxRatio = r
		}
		if b[i] >= a[i] {
			c.BAhead++
		}
	}
	c.Ratio = c.B / c.A
	c.Verdict = GoalMissed
	if c.B >= c.A {
		c.Verdict = GoalMet
	}
	return c, nil
}

// String prints the medians, their ratio and the rounds' range.
func (c RPSComparison) String() string {
	return fmt.Sprintf("%.0f vs %.0f req/s (median of %d rounds), %.2f× (rounds %.2f× to %.2f×, at least as fast in %d of %d)",
		c.A, c.B, c.Rounds, c.Ratio, c.MinRatio, c.MaxRatio, c.BAhead, c.Rounds)
}

// Median returns the median of v (the upper one for an even count), 0 for
// none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
