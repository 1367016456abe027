package stats

import "math"

// WaldASN is the expected sample size, by Wald's approximation, of Wald's
// one-sided SPRT of share p0 against p1 with thresholds A = (1−β)/α and
// B = β/(1−α), when the true share is q. It is the benchmark a test of the
// same α, β and δ = |p1 − p0| cannot beat on average at q = p0 or q = p1.
func WaldASN(p0, p1, alpha, beta, q float64) float64 {
	logA := math.Log((1 - beta) / alpha)
	logB := math.Log(beta / (1 - alpha))
	hit, miss := math.Log(p1/p0), math.Log((1-p1)/(1-p0))
	mean := q*hit + (1-q)*miss
	if math.Abs(mean) < 1e-12 {
		second := q*hit*hit + (1-q)*miss*miss
		return -logA * logB / second
	}
	h := waldH(q, hit, miss, mean)
	ah, bh := math.Exp(h*logA), math.Exp(h*logB)
	accept := (ah - 1) / (ah - bh) // operating characteristic: P(accept p0)
	return (accept*logB + (1-accept)*logA) / mean
}

// waldH solves q·e^{h·hit} + (1−q)·e^{h·miss} = 1 for h ≠ 0; its sign is
// opposite to the mean log likelihood ratio.
func waldH(q, hit, miss, mean float64) float64 {
	g := func(h float64) float64 { return q*math.Exp(h*hit) + (1-q)*math.Exp(h*miss) - 1 }
	dir := 1.0
	if mean > 0 {
		dir = -1
	}
	lo, hi := 0.0, dir*1e-3
	for g(hi) < 0 && math.Abs(hi) < 1e6 {
		lo, hi = hi, hi*2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if g(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
