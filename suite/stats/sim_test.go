package stats

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

var simLong = flag.Bool("sim.long", false, "run the long simulation (10^4 runs per cell instead of 2000)")

// simulate runs test on a true share q for the first of two backends and
// returns the empirical operating characteristic.
func simulate(rng *rand.Rand, runs int, q float64, test func(draw func(n int) []int) (Decision, int)) OC {
	var oc OC
	ns := make([]int, 0, runs)
	draw := func(n int) []int {
		hits := 0
		for range n {
			if rng.Float64() < q {
				hits++
			}
		}
		return []int{hits, n - hits}
	}
	for range runs {
		d, n := test(draw)
		switch d {
		case verdict.Pass:
			oc.Pass++
		case verdict.Fail:
			oc.Fail++
		default:
			oc.Inconclusive++
		}
		oc.MeanN += float64(n)
		ns = append(ns, n)
	}
	r := float64(runs)
	oc.Pass, oc.Fail, oc.Inconclusive, oc.MeanN = oc.Pass/r, oc.Fail/r, oc.Inconclusive/r, oc.MeanN/r
	slices.Sort(ns)
	oc.P99N = ns[int(math.Ceil(0.99*r))-1]
	return oc
}

func ours(p float64, params Params) func(draw func(n int) []int) (Decision, int) {
	return func(draw func(n int) []int) (Decision, int) {
		s, err := NewSplit([]string{"a", "b"}, []float64{p, 1 - p}, params)
		if err != nil {
			panic(err) // constant inputs
		}
		s.skipIntervals = true
		d, err := s.Run(func(n int) ([]int, error) { return draw(n), nil })
		if err != nil {
			panic(err)
		}
		return d, s.N()
	}
}

func upstream(p float64) func(draw func(n int) []int) (Decision, int) {
	return func(draw func(n int) []int) (Decision, int) {
		for t := 1; t <= UpstreamAttempts; t++ {
			if UpstreamPassesOnce(draw(UpstreamRequests), []float64{p, 1 - p}) {
				return verdict.Pass, t * UpstreamRequests
			}
		}
		return verdict.Fail, UpstreamAttempts * UpstreamRequests
	}
}

// prob formats a probability so that both ends stay readable: 7.7e-04,
// 0.93, 1-7.7e-04.
func prob(p float64) string {
	switch {
	case p == 0 || p == 1:
		return fmt.Sprint(p)
	case p > 0.99:
		return fmt.Sprintf("1-%.1e", 1-p)
	case p < 0.01:
		return fmt.Sprintf("%.1e", p)
	}
	return fmt.Sprintf("%.3f", p)
}

// TestSim prints the operating characteristics of our test and upstream's
// for expected 70/30 and 90/10 and true deviations of 0–10 points, exact
// (dynamic programming) and simulated, next to Wald's SPRT sample size.
func TestSim(t *testing.T) {
	runs := 2000
	if *simLong {
		runs = 10000
	}
	params := DefaultParams()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	fmt.Fprintf(&b, "α=%g β=%g δ=%g batch=%d budget=%d; %d simulated runs per cell.\n", params.Alpha, params.Beta, params.Delta, params.Batch, params.Budget, runs)
	fmt.Fprintf(&b, "dev = points the first backend really gets below its share. At dev 0 FAIL is a false fail (≤ α); at dev ≥ 5 PASS is a miss (≤ β); dev 2 is in the indifference zone.\n")
	fmt.Fprintf(&b, "%-6s %3s | %-31s %11s | %-20s %11s | %-19s %-9s %11s | %5s %5s\n",
		"", "", "ours, exact (DP)", "", "ours, simulated", "", "upstream, exact", "sim", "", "Wald", "")
	fmt.Fprintf(&b, "%-6s %3s | %-9s %-9s %-9s %5s %5s | %-9s %-9s %5s %5s | %-9s %-9s %-9s %5s %5s | %5s %5s\n",
		"split", "dev", "FAIL", "PASS", "INCONCL", "mean", "p99", "FAIL", "PASS", "mean", "p99",
		"FAIL", "PASS", "PASS", "mean", "p99", "SPRT", "ratio")
	for _, p := range []float64{0.7, 0.9} {
		for _, dev := range []float64{0, 2, 5, 8, 10} {
			q := p - dev/100
			dv := dev / 100
			exact, err := OperatingCharacteristic(params, p, q)
			if err != nil {
				t.Fatal(err)
			}
			sim := simulate(rng, runs, q, ours(p, params))
			upx := UpstreamExact(p, q)
			ups := simulate(rng, runs, q, upstream(p))
			wald := WaldASN(p, p-params.Delta, params.Alpha, params.Beta, q)
			fmt.Fprintf(&b, "%2.0f/%-3.0f %3.0f | %-9s %-9s %-9s %5.0f %5d | %-9s %-9s %5.0f %5d | %-9s %-9s %-9s %5.0f %5d | %5.0f %5.2f\n",
				100*p, 100*(1-p), dev, prob(exact.Fail), prob(exact.Pass), prob(exact.Inconclusive), exact.MeanN, exact.P99N,
				prob(sim.Fail), prob(sim.Pass), sim.MeanN, sim.P99N,
				prob(upx.Fail), prob(upx.Pass), prob(ups.Pass), ups.MeanN, ups.P99N, wald, exact.MeanN/wald)

			// The guarantees, checked on the exact figures.
			if dev == 0 && exact.Fail > params.Alpha {
				t.Errorf("%v/%v: exact false-fail %g exceeds α %g", p, dev, exact.Fail, params.Alpha)
			}
			if dv >= params.Delta && exact.Pass > params.Beta {
				t.Errorf("%v/%v: exact miss %g exceeds β %g", p, dev, exact.Pass, params.Beta)
			}
			// The simulation agrees with the exact computation: within 5
			// standard errors (plus a little for rates near 0).
			se := math.Sqrt(exact.Pass*(1-exact.Pass)/float64(runs)) + 1/float64(runs)
			if math.Abs(sim.Pass-exact.Pass) > 5*se {
				t.Errorf("%v/%v: simulated pass rate %g, exact %g", p, dev, sim.Pass, exact.Pass)
			}
			if math.Abs(upx.Pass-ups.Pass) > 5*(math.Sqrt(upx.Pass*(1-upx.Pass)/float64(runs))+1/float64(runs)) {
				t.Errorf("%v/%v: upstream simulated pass rate %g, exact %g", p, dev, ups.Pass, upx.Pass)
			}
		}
	}
	t.Log("\n" + b.String())
}

// BenchmarkSplitBatch measures a whole 70/30 test fed exact 14/6 batches
// (decisions and interval updates) to its PASS.
func BenchmarkSplitBatch(b *testing.B) {
	for b.Loop() {
		s, err := NewSplit([]string{"a", "b"}, []float64{0.7, 0.3}, Params{})
		if err != nil {
			b.Fatal(err)
		}
		for s.Decision() == Continue {
			if _, err := s.Observe([]int{14, 6}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
