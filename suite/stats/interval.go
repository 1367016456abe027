package stats

import "math"

// ConfidenceSequence returns an anytime-valid confidence interval, at
// confidence 1−gamma, for a Bernoulli share after hits successes in n
// trials. It is the set of q where the mixture martingale
//
//	M_n(q) = ½·J_n(q) + ¼·LR_n(q+δ : q) + ¼·LR_n(q−δ : q)
//
// stays below 1/gamma, J_n being the Jeffreys Beta(½,½) beta-binomial
// mixture likelihood ratio and LR_n(a : q) the likelihood ratio of share a
// against q. M_n(q) is a martingale with mean 1 under q, so by Ville's
// inequality the true share leaves the interval at some n with probability
// at most gamma: the interval may be looked at after every batch.
//
// The two point masses at q±δ make the interval agree with [Split] (which
// also intersects the intervals over batches): with
// gamma = 4β, a PASS (LR_n(p : p±δ) ≥ 1/β) puts p±δ outside the interval,
// and a FAIL puts p outside it. The Jeffreys part makes it keep narrowing
// below ±δ as data accumulate. delta ≤ 0 leaves only the Jeffreys part.
// With n = 0 the interval is [0, 1].
func ConfidenceSequence(hits, n int, gamma, delta float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	hits = min(max(hits, 0), n)
	s, f := float64(hits), float64(n-hits)
	logJ := lbeta(0.5+s, 0.5+f) - lbeta(0.5, 0.5)
	bound := math.Log(1 / gamma)
	loglik := func(q float64) float64 { return xlogy(s, q) + xlogy(f, 1-q) }
	// excess(q) = log M_n(q) − log(1/γ); ≤ 0 inside the interval.
	excess := func(q float64) float64 {
		lq := loglik(q)
		if math.IsInf(lq, -1) {
			return math.Inf(1)
		}
		terms := []float64{math.Log(0.5) + logJ - lq}
		if delta > 0 {
			for _, a := range []float64{q + delta, q - delta} {
				if a >= 0 && a <= 1 {
					terms = append(terms, math.Log(0.25)+loglik(a)-lq)
				}
			}
		}
		return logSumExp(terms) - bound
	}
	// Walk out from the observed share (always inside) in small steps
	// until a q is excluded, then sharpen each end by bisection.
	const step = 1.0 / 400
	mle := s / float64(n)
	lo, hi = mle, mle
	for lo > 0 && excess(math.Max(lo-step, 0)) <= 0 {
		lo = math.Max(lo-step, 0)
	}
	if lo > 0 {
		lo = bisect(excess, math.Max(lo-step, 0), lo)
	}
	for hi < 1 && excess(math.Min(hi+step, 1)) <= 0 {
		hi = math.Min(hi+step, 1)
	}
	if hi < 1 {
		hi = bisect(excess, math.Min(hi+step, 1), hi)
	}
	return lo, hi
}

// bisect narrows the boundary between out (excess > 0) and in (≤ 0) to
// machine precision and returns the out end, so the interval errs wide.
func bisect(f func(float64) float64, out, in float64) float64 {
	for range 100 {
		mid := (out + in) / 2
		if mid == out || mid == in {
			break
		}
		if f(mid) > 0 {
			out = mid
		} else {
			in = mid
		}
	}
	return out
}

func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	sum := 0.0
	for _, x := range xs {
		sum += math.Exp(x - m)
	}
	return m + math.Log(sum)
}

// xlogy is x·log(y) with 0·log(0) = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}
