package stats

import "math"

// ErrorBudget spends the error rates over the attempts of a check that may
// be retried (a route converging): attempt i (from 0) gets α·2^−(i+1) and
// β·2^−(i+1), so any number of attempts together keep the false-fail rate
// ≤ α and the miss rate ≤ β. If MaxAttempts is set, attempts share equally
// (α/MaxAttempts), which is cheaper when the count is known in advance.
// It is not safe for concurrent use.
type ErrorBudget struct {
	// Params holds the total α and β and the δ, budget and batch of each
	// attempt.
	Params Params
	// MaxAttempts, if > 0, spends equally over that many attempts and
	// makes [ErrorBudget.Next] report false after them. Optional.
	MaxAttempts int

	attempts int
}

// Next returns the parameters for the next attempt and whether one is
// allowed.
func (b *ErrorBudget) Next() (Params, bool) {
	p := b.Params.withDefaults()
	i := b.attempts
	if b.MaxAttempts > 0 && i >= b.MaxAttempts {
		return p, false
	}
	b.attempts++
	share := math.Ldexp(1, -(i + 1))
	if b.MaxAttempts > 0 {
		share = 1 / float64(b.MaxAttempts)
	}
	if share == 0 {
		return p, false // 1074 attempts: the budget is spent
	}
	p.Alpha *= share
	p.Beta *= share
	return p, true
}

// Attempts returns how many attempts were handed out.
func (b *ErrorBudget) Attempts() int { return b.attempts }

// Spent returns the total α and β handed out so far.
func (b *ErrorBudget) Spent() (alpha, beta float64) {
	p := b.Params.withDefaults()
	if b.MaxAttempts > 0 {
		f := float64(b.attempts) / float64(b.MaxAttempts)
		return p.Alpha * f, p.Beta * f
	}
	f := 1 - math.Ldexp(1, -b.attempts)
	return p.Alpha * f, p.Beta * f
}
