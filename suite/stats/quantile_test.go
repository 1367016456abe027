package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i)
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"none", nil, 0.5, 0},
		{"one", []float64{5}, 0.99, 5},
		{"median of 1..100", hundred, 0.5, 50},
		{"p99 of 1..100", hundred, 0.99, 99},
		{"p99 of ten is the max", []float64{3, 1, 2, 10, 9, 8, 7, 6, 5, 4}, 0.99, 10},
		{"ties", []float64{2, 2, 2, 1}, 0.5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.xs)
			if got := Quantile(tc.xs, tc.q); got != tc.want {
				t.Errorf("Quantile(%v, %g) = %g, want %g", tc.xs, tc.q, got, tc.want)
			}
			if !slices.Equal(tc.xs, orig) {
				t.Errorf("Quantile reordered its input: %v", tc.xs)
			}
		})
	}
}

// TestSelectRankMatchesSort checks quickselect against sorting, with many
// ties, for every rank.
func TestSelectRankMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 1 + rng.IntN(60)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rng.IntN(1 + trial%10))
		}
		sorted := slices.Sorted(slices.Values(xs))
		for k := range n {
			if got := selectRank(slices.Clone(xs), k); got != sorted[k] {
				t.Fatalf("selectRank(%v, %d) = %g, want %g", xs, k, got, sorted[k])
			}
		}
	}
}

func TestCompareQuantileErrors(t *testing.T) {
	ten := make([]float64, 10)
	for _, tc := range []struct {
		name string
		a, b []float64
		q    float64
		cfg  Bootstrap
		want string
	}{
		{"empty side", nil, ten, 0.99, Bootstrap{Block: 1}, "need values on both sides"},
		{"quantile 1", ten, ten, 1, Bootstrap{Block: 1}, "quantile 1 must be"},
		{"no block", ten, ten, 0.99, Bootstrap{}, "block 0"},
		{"block too long", ten, ten[:5], 0.99, Bootstrap{Block: 6}, "length 5"},
		{"few resamples", ten, ten, 0.99, Bootstrap{Block: 1, Resamples: 10}, "too few"},
		{"confidence", ten, ten, 0.99, Bootstrap{Block: 1, Confidence: 1.5}, "confidence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompareQuantile(tc.a, tc.b, tc.q, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CompareQuantile error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// latencies draws n request latencies in milliseconds: log-normal around
// base, plus, if stalls is set, a busy machine now and then (a stall starts
// at one request in 2000 and slows the next 40 requests by 2–10 ms, less
// for each later one), which puts the p99 in the stalls.
func latencies(rng *rand.Rand, n int, base float64, stalls bool) []float64 {
	xs := make([]float64, n)
	left, extra := 0, 0.0
	for i := range xs {
		xs[i] = base * math.Exp(0.3*rng.NormFloat64())
		if stalls && left == 0 && rng.IntN(2000) == 0 {
			left, extra = 40, 2+8*rng.Float64()
		}
		if left > 0 {
			xs[i] += extra * float64(left) / 40
			left--
		}
	}
	return xs
}

// TestCompareQuantileCoverage checks the interval's coverage and power by
// simulation: independent latencies, b slower than a by a known shift (so
// the true p99 difference is the shift).
func TestCompareQuantileCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		shift        float64
		minCoverage  float64
		minExcluding float64 // share of intervals that exclude 0
	}{
		{0, 0.88, 0},
		{0.3, 0.88, 0.9},
	} {
		const trials = 100
		covered, excluding := 0, 0
		for trial := range trials {
			a := latencies(rng, 2000, 0.5, false)
			b := latencies(rng, 2000, 0.5, false)
			for i := range b {
				b[i] += tc.shift
			}
			d, err := CompareQuantile(a, b, 0.99, Bootstrap{Block: 1, Resamples: 200, Seed: uint64(trial)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Lo <= tc.shift && tc.shift <= d.Hi {
				covered++
			}
			if d.Lo > 0 || d.Hi < 0 {
				excluding++
			}
		}
		if got := float64(covered) / trials; got < tc.minCoverage {
			t.Errorf("shift %g: the 95%% interval covered the true difference in %.0f%% of trials, want at least %.0f%%", tc.shift, 100*got, 100*tc.minCoverage)
		}
		if got := float64(excluding) / trials; got < tc.minExcluding {
			t.Errorf("shift %g: the interval excluded 0 in %.0f%% of trials, want at least %.0f%%", tc.shift, 100*got, 100*tc.minExcluding)
		}
	}
}

// TestCompareQuantileBlocks shows why blocks: both sides come from the same
// machine with stalls (true difference 0). Treating the latencies as
// independent gives intervals far too narrow, which exclude 0 often;
// blocks as long as a stall keep the false alarms near the nominal 5%.
func TestCompareQuantileBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const trials = 50
	falseAlarms := map[int]int{}
	for trial := range trials {
		a := latencies(rng, 10000, 0.5, true)
		b := latencies(rng, 10000, 0.5, true)
		for _, block := range []int{1, 200} {
			d, err := CompareQuantile(a, b, 0.99, Bootstrap{Block: block, Resamples: 200, Seed: uint64(trial)})
			if err != nil {
				t.Fatal(err)
			}
			if d.Lo > 0 || d.Hi < 0 {
				falseAlarms[block]++
			}
		}
	}
	t.Logf("intervals excluding the true difference 0: %v of %d", falseAlarms, trials)
	if got := float64(falseAlarms[200]) / trials; got > 0.12 {
		t.Errorf("blocks of 200: %.0f%% false alarms, want at most 12%%", 100*got)
	}
	if falseAlarms[1] <= falseAlarms[200] {
		t.Errorf("independent resampling had %d false alarms, blocks %d: the simulated stalls do not show why blocks are needed", falseAlarms[1], falseAlarms[200])
	}
}

func BenchmarkCompareQuantile(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	x, y := latencies(rng, 30000, 0.5, true), latencies(rng, 30000, 0.7, true)
	for b.Loop() {
		if _, err := CompareQuantile(x, y, 0.99, Bootstrap{Block: 500}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestQuantileDiffString(t *testing.T) {
	d := QuantileDiff{Q: 0.99, A: 2, B: 4.5, Diff: 2.5, Lo: -1, Hi: 3.25, Confidence: 0.95}
	if got, want := d.String(), "p99: 2 vs 4.5, difference +2.5 (95% interval -1 to +3.25)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
