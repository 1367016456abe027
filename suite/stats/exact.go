package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// OC is the operating characteristic of a test at one true split: the
// probability of each outcome and the distribution of requests used.
type OC struct {
	Pass         float64 `json:"pass"`
	Fail         float64 `json:"fail"`
	Inconclusive float64 `json:"inconclusive"`
	// MeanN is the expected number of requests; P99N the 99th percentile.
	MeanN float64 `json:"meanRequests"`
	P99N  int     `json:"p99Requests"`
}

// pruneMass is the probability below which a lattice cell is dropped. At
// most 4 masks × (Budget+1) counts × Budget/Batch checkpoints cells are
// dropped, so the dropped total is below 4·20001·1000·1e-40 < 1e-29 for the
// defaults, far below any rate reported.
const pruneMass = 1e-40

// OperatingCharacteristic computes, exactly, the operating characteristic
// of [Split] for two backends with expected shares (expected, 1−expected)
// when the first backend really gets share trueShare and every request is
// routed independently: the probability of PASS, FAIL and INCONCLUSIVE and
// the mean and 99th percentile of the requests used.
//
// It is a dynamic program over the test's state, not a simulation: the
// count of the first backend is the sufficient statistic of every side's
// likelihood ratio, so the state after n requests is that count and which
// sides have been accepted; each batch (params.Batch requests, as [Split]
// evaluates) convolves the count with Binomial(batch, trueShare), and the
// mass that crosses a threshold is moved to its outcome. States below
// 1e-40 are dropped (in total < 1e-29 for the defaults). For the defaults
// (budget 20000, batches of 20) one call takes about 10–50 ms, and unlike
// a simulation it resolves rates such as 1e-9.
func OperatingCharacteristic(params Params, expected, trueShare float64) (OC, error) {
	p, q := expected, trueShare
	if err := params.Validate(); err != nil {
		return OC{}, err
	}
	params = params.withDefaults()
	if !(p >= 0 && p <= 1 && q >= 0 && q <= 1) {
		return OC{}, fmt.Errorf("%w: shares %g and %g must be in [0, 1]", ErrBadParams, p, q)
	}
	sides := buildSides([]float64{p, 1 - p}, params)
	start, full := acceptedMasks(sides)
	var oc OC
	if start == full {
		return OC{Pass: 1}, nil
	}
	// dist[mask][s] is the probability of s hits so far with the sides in
	// mask accepted and the test still running.
	dist := newLattice(full+1, params.Budget+1)
	dist[start][0] = 1
	lo, hi := 0, 0 // support of s over all masks
	n := 0
	var stopped []float64 // stopped[k]: P(stop at checkpoint k)
	var checkpoints []int
	next := newLattice(full+1, params.Budget+1)
	keep := newLattice(full+1, params.Budget+1)
	for n < params.Budget {
		b := min(params.Batch, params.Budget-n)
		convolve(dist, next, batchPMF(b, q), lo, hi)
		n += b
		hi += b
		stop, newLo, newHi := settle(&oc, next, keep, sides, lo, hi, n, params.Budget)
		dist, keep = keep, dist
		stopped = append(stopped, stop)
		checkpoints = append(checkpoints, n)
		if newHi < 0 {
			break
		}
		lo, hi = newLo, newHi
	}
	oc.MeanN, oc.P99N = requestsUsed(stopped, checkpoints, params.Budget)
	return oc, nil
}

// acceptedMasks returns the bit mask of the sides accepted before any
// request (sides whose alternative cannot occur) and the mask of all sides.
func acceptedMasks(sides []Side) (start, full int) {
	full = 1<<len(sides) - 1
	for i, sd := range sides {
		if sd.Decision == verdict.Pass {
			start |= 1 << i
		}
	}
	return start, full
}

// newLattice returns a zeroed probability lattice of masks × counts cells.
func newLattice(masks, counts int) [][]float64 {
	l := make([][]float64, masks)
	for m := range l {
		l[m] = make([]float64, counts)
	}
	return l
}

// batchPMF returns the probabilities of 0..b hits in a batch of b
// requests when each is a hit with probability q.
func batchPMF(b int, q float64) []float64 {
	pmf := make([]float64, b+1)
	bin := distuv.Binomial{N: float64(b), P: q}
	for j := range pmf {
		pmf[j] = bin.Prob(float64(j))
	}
	switch q { // distuv gives NaN at the ends
	case 0:
		clear(pmf)
		pmf[0] = 1
	case 1:
		clear(pmf)
		pmf[b] = 1
	}
	return pmf
}

// convolve moves the mass of dist at counts lo..hi to next, spread by one
// batch's pmf, and leaves those cells of dist zero.
func convolve(dist, next [][]float64, pmf []float64, lo, hi int) {
	b := len(pmf) - 1
	for m := range dist {
		clear(next[m][lo : hi+b+1])
		for s := lo; s <= hi; s++ {
			w := dist[m][s]
			if w == 0 {
				continue
			}
			dist[m][s] = 0
			for j, pj := range pmf {
				next[m][s+j] += w * pj
			}
		}
	}
}

// settle decides the mass of next after n requests: what a side FAILs,
// all sides accept or the budget ends goes to its outcome in oc, the rest
// to keep under its new mask. It returns the mass stopped and the range of
// counts still running (newHi < 0 when none is).
func settle(oc *OC, next, keep [][]float64, sides []Side, lo, hi, n, budget int) (stop float64, newLo, newHi int) {
	full := len(next) - 1
	newLo, newHi = budget+1, -1
	for m := range next {
		for s := lo; s <= hi; s++ {
			w := next[m][s]
			if w == 0 {
				continue
			}
			mask, failed := decideSides(m, s, n, sides)
			switch {
			case failed:
				oc.Fail += w
				stop += w
			case mask == full:
				oc.Pass += w
				stop += w
			case n >= budget:
				oc.Inconclusive += w
				stop += w
			case w < pruneMass:
			default:
				keep[mask][s] += w
				newLo, newHi = min(newLo, s), max(newHi, s)
			}
		}
	}
	return stop, newLo, newHi
}

// decideSides runs the sides not in mask at s hits of n requests: it
// returns mask with the sides accepted now added, and whether one FAILed.
func decideSides(mask, s, n int, sides []Side) (int, bool) {
	failed := false
	for i, sd := range sides {
		if mask&(1<<i) != 0 {
			continue
		}
		llr := logLR(s, n-s, sd.hit, sd.miss)
		switch {
		case llr >= sd.Upper:
			failed = true
		case llr <= sd.Lower:
			mask |= 1 << i
		}
	}
	return mask, failed
}

// requestsUsed returns the mean and the 99th percentile of the requests a
// test used, from the probability it stopped at each checkpoint; the
// percentile is budget when the stops never reach 99%.
func requestsUsed(stopped []float64, checkpoints []int, budget int) (mean float64, p99 int) {
	total, cum := 0.0, 0.0
	for _, w := range stopped {
		total += w
	}
	p99 = budget
	for k, w := range stopped {
		mean += w * float64(checkpoints[k])
		cum += w
		if cum >= 0.99*total && p99 == budget {
			p99 = checkpoints[k]
		}
	}
	if total > 0 {
		mean /= total
	}
	return mean, p99
}

// Upstream scheme constants (sigs.k8s.io/gateway-api/conformance/utils/weight).
const (
	UpstreamRequests  = 500
	UpstreamTolerance = 0.05
	UpstreamAttempts  = 10
)

// UpstreamPassesOnce reports whether upstream's check passes one attempt of
// UpstreamRequests requests with counts per backend, computed the way
// upstream does (in float64).
func UpstreamPassesOnce(counts []int, expected []float64) bool {
	n := 0
	for _, c := range counts {
		n += c
	}
	for i, c := range counts {
		if math.Abs(float64(c)/float64(n)-expected[i]) > UpstreamTolerance {
			return false
		}
	}
	return true
}

// UpstreamExact is the exact operating characteristic of upstream's scheme
// (500 requests, every backend within ±0.05, up to 10 attempts, pass if any
// attempt passes) for two backends with expected shares (p, 1−p) and true
// share q. Fail means all attempts failed.
func UpstreamExact(p, q float64) OC {
	bin := distuv.Binomial{N: UpstreamRequests, P: q}
	once := 0.0
	for x := 0; x <= UpstreamRequests; x++ {
		if UpstreamPassesOnce([]int{x, UpstreamRequests - x}, []float64{p, 1 - p}) {
			once += bin.Prob(float64(x))
		}
	}
	oc := OC{Fail: math.Pow(1-once, UpstreamAttempts)}
	oc.Pass = 1 - oc.Fail
	oc.P99N = UpstreamAttempts * UpstreamRequests
	for t := 1; t <= UpstreamAttempts; t++ {
		// P(attempt t happens) = (1−once)^(t−1)
		oc.MeanN += UpstreamRequests * math.Pow(1-once, float64(t-1))
		// P(T ≤ t) where T is the attempt that ends it.
		if 1-math.Pow(1-once, float64(t)) >= 0.99 && oc.P99N == UpstreamAttempts*UpstreamRequests {
			oc.P99N = t * UpstreamRequests
		}
	}
	return oc
}
