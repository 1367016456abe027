package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Quantile returns the nearest-rank q-quantile of xs (the value at rank
// ⌈q·n⌉ in sorted order), the definition the sampling client uses; 0 for
// no values. xs is not modified.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	return selectRank(s, NearestRank(len(s), q))
}

// NearestRank is the 0-based index of the q-quantile among n sorted values
// by the nearest-rank definition (rank ⌈q·n⌉), within [0, n−1].
func NearestRank(n int, q float64) int {
	return min(max(int(math.Ceil(q*float64(n)))-1, 0), n-1)
}

// selectRank reorders xs so that xs[k] is the value of rank k (as if
// sorted) and returns it: Hoare's quickselect, O(n) on average.
func selectRank(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		pivot := xs[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// Bootstrap configures [CompareQuantile].
type Bootstrap struct {
	// Block is how many consecutive values a resample draws at once
	// (circular block bootstrap): at least the length over which values are
	// correlated, e.g. the requests of half a second when a stall of the
	// machine slows every request for a while. 1 treats values as
	// independent.
	Block int
	// Resamples is how many bootstrap resamples to draw (default 1000).
	Resamples int
	// Confidence of the interval (default 0.95).
	Confidence float64
	// Seed makes the resampling reproducible.
	Seed uint64
}

// QuantileDiff is the difference of one quantile between two samples.
type QuantileDiff struct {
	// Q is the quantile compared, e.g. 0.99.
	Q float64
	// A and B are the samples' Q-quantiles; Diff is B − A.
	A, B, Diff float64
	// Lo and Hi bound Diff at the configured confidence.
	Lo, Hi float64
	// Confidence is the interval's nominal coverage.
	Confidence float64
}

// String formats d for a log line: the quantile, both values, the
// difference and its interval.
func (d QuantileDiff) String() string {
	return fmt.Sprintf("p%g: %.4g vs %.4g, difference %+.4g (%.0f%% interval %+.4g to %+.4g)",
		100*d.Q, d.A, d.B, d.Diff, 100*d.Confidence, d.Lo, d.Hi)
}

// CompareQuantile estimates the q-quantile of b minus that of a with a
// percentile bootstrap interval. a and b are series in time order (e.g.
// request latencies in the order requests were sent): each resample of a
// series joins blocks of cfg.Block consecutive values starting at random
// positions (wrapping around the end, so every value is drawn equally
// often), so that runs of slow values (a busy moment of the machine)
// stay together and widen the interval as they should; a and b are
// resampled independently.
func CompareQuantile(a, b []float64, q float64, cfg Bootstrap) (QuantileDiff, error) {
	if cfg.Resamples == 0 {
		cfg.Resamples = 1000
	}
	if cfg.Confidence == 0 {
		cfg.Confidence = 0.95
	}
	switch {
	case len(a) == 0 || len(b) == 0:
		return QuantileDiff{}, fmt.Errorf("compare quantiles: need values on both sides, have %d and %d", len(a), len(b))
	case !(q > 0 && q < 1):
		return QuantileDiff{}, fmt.Errorf("compare quantiles: quantile %g must be between 0 and 1", q)
	case cfg.Block < 1 || cfg.Block > min(len(a), len(b)):
		return QuantileDiff{}, fmt.Errorf("compare quantiles: block %d must be between 1 and the shorter series' length %d", cfg.Block, min(len(a), len(b)))
	case cfg.Resamples < 100:
		return QuantileDiff{}, fmt.Errorf("compare quantiles: %d resamples are too few for an interval; use at least 100", cfg.Resamples)
	case !(cfg.Confidence > 0 && cfg.Confidence < 1):
		return QuantileDiff{}, errors.New("compare quantiles: confidence must be between 0 and 1")
	}
	d := QuantileDiff{Q: q, A: Quantile(a, q), B: Quantile(b, q), Confidence: cfg.Confidence}
	d.Diff = d.B - d.A
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	bufA, bufB := make([]float64, len(a)), make([]float64, len(b))
	diffs := make([]float64, cfg.Resamples)
	for i := range diffs {
		diffs[i] = resampledQuantile(rng, b, bufB, cfg.Block, q) - resampledQuantile(rng, a, bufA, cfg.Block, q)
	}
	tail := (1 - cfg.Confidence) / 2
	d.Lo = Quantile(diffs, tail)
	d.Hi = Quantile(diffs, 1-tail)
	return d, nil
}

// resampledQuantile fills buf with a circular block resample of xs and
// returns its q-quantile.
func resampledQuantile(rng *rand.Rand, xs, buf []float64, block int, q float64) float64 {
	n := len(xs)
	for filled := 0; filled < n; {
		start := rng.IntN(n)
		end := min(start+block, start+n-filled)
		if end <= n {
			filled += copy(buf[filled:], xs[start:end])
			continue
		}
		filled += copy(buf[filled:], xs[start:])
		filled += copy(buf[filled:], xs[:end-n])
	}
	return selectRank(buf, NearestRank(n, q))
}
