package stats

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Decision is the state of a sequential test: [Continue] while it runs,
// then [verdict.Pass], [verdict.Fail] or, when the budget ran out,
// [verdict.Inconclusive] (never to be reported as a pass).
type Decision = verdict.Verdict

// Continue is the decision of a test that needs more requests. It is not a
// verdict.
const Continue Decision = "CONTINUE"

// Defaults for [Params].
const (
	DefaultAlpha  = 1e-6
	DefaultBeta   = 1e-3
	DefaultDelta  = 0.05
	DefaultBudget = 20000
	DefaultBatch  = 20
	// DefaultZeroDelta is the share a backend that must get nothing
	// (weight 0) is proven below: 0.5%, so a weight-0 backend that gets 1%
	// of the requests is caught with probability far above 1−β (see
	// [ZeroRequests]).
	DefaultZeroDelta = 0.005
)

// ErrBadParams is wrapped by every error about invalid parameters or shares.
var ErrBadParams = errors.New("invalid statistics parameters")

// Params are the error rates, tolerance and budget of a test.
type Params struct {
	// Alpha bounds the probability of failing an exactly correct split.
	// Optional: 0 means [DefaultAlpha].
	Alpha float64 `json:"alpha"`
	// Beta bounds the probability of passing a split with some backend at
	// least Delta off. Optional: 0 means [DefaultBeta].
	Beta float64 `json:"beta"`
	// Delta is the tolerance, an absolute difference of shares.
	// Optional: 0 means [DefaultDelta].
	Delta float64 `json:"delta"`
	// Budget is the most requests a test may use before it is
	// [verdict.Inconclusive]. Optional: 0 means [DefaultBudget].
	Budget int `json:"budget"`
	// Batch is the number of requests to send between decisions.
	// Optional: 0 means [DefaultBatch].
	Batch int `json:"batch"`
	// ZeroDelta is the tolerance of a share that must be 0 (a weight-0
	// backend): a PASS of [ExpectZero] means the share is below ZeroDelta
	// but with probability β. Optional: 0 means [DefaultZeroDelta].
	ZeroDelta float64 `json:"zeroDelta,omitempty"`
}

// DefaultParams returns the defaults.
func DefaultParams() Params { return Params{}.withDefaults() }

func (p Params) withDefaults() Params {
	p.Alpha = cmp.Or(p.Alpha, DefaultAlpha)
	p.Beta = cmp.Or(p.Beta, DefaultBeta)
	p.Delta = cmp.Or(p.Delta, DefaultDelta)
	p.Budget = cmp.Or(p.Budget, DefaultBudget)
	p.Batch = cmp.Or(p.Batch, DefaultBatch)
	p.ZeroDelta = cmp.Or(p.ZeroDelta, DefaultZeroDelta)
	return p
}

// Validate reports whether the parameters, with defaults applied, make sense.
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case !(p.Alpha > 0 && p.Alpha < 1):
		return fmt.Errorf("%w: alpha %g must be in (0, 1)", ErrBadParams, p.Alpha)
	case !(p.Beta > 0 && p.Beta < 1):
		return fmt.Errorf("%w: beta %g must be in (0, 1)", ErrBadParams, p.Beta)
	case !(p.Delta > 0 && p.Delta < 1):
		return fmt.Errorf("%w: tolerance %g must be in (0, 1), an absolute share such as 0.05", ErrBadParams, p.Delta)
	case p.Budget < 0:
		return fmt.Errorf("%w: budget %d must not be negative", ErrBadParams, p.Budget)
	case p.Batch < 0:
		return fmt.Errorf("%w: batch %d must not be negative", ErrBadParams, p.Batch)
	case !(p.ZeroDelta > 0 && p.ZeroDelta < 1):
		return fmt.Errorf("%w: zero tolerance %g must be in (0, 1), an absolute share such as 0.005", ErrBadParams, p.ZeroDelta)
	}
	return nil
}

// Side is one one-sided SPRT of a backend's share.
type Side struct {
	// Backend is the index of the backend tested.
	Backend int `json:"backend"`
	// Sign is +1 when the alternative is p+δ, −1 when it is p−δ.
	Sign int `json:"sign"`
	// P0 and P1 are the null (expected) and alternative shares.
	P0 float64 `json:"p0"`
	P1 float64 `json:"p1"`
	// LogLR is log of the likelihood ratio P1 versus P0 (the log e-value
	// against the expected share) when the side was decided, or now. In
	// [Evidence] ±∞ (a hit on a share that must be 0) is written ±1e300.
	LogLR float64 `json:"logLR"`
	// Upper is the threshold log(m/α) at which the side FAILs; Lower is the
	// threshold log β at which it is accepted.
	Upper float64 `json:"upper"`
	Lower float64 `json:"lower"`
	// Decision is [Continue], [verdict.Pass] (accepted) or [verdict.Fail].
	Decision Decision `json:"decision"`
	// N is the number of requests when the side was decided (or now).
	N int `json:"n"`

	hit, miss float64 // per-observation log LR increments
}

// Interval is a confidence interval for a share.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Evidence is what a test saw and concluded; it is meant for reports.
type Evidence struct {
	Names    []string  `json:"names"`
	Expected []float64 `json:"expected"`
	Counts   []int     `json:"counts"`
	N        int       `json:"n"`
	// Intervals are anytime-valid confidence sequences for each backend's
	// share, at confidence Level.
	Intervals []Interval `json:"intervals"`
	Level     float64    `json:"level"`
	Sides     []Side     `json:"sides"`
	Params    Params     `json:"params"`
	Decision  Decision   `json:"decision"`
}

// Split is a sequential test of a multinomial split. It is not safe for
// concurrent use.
type Split struct {
	names    []string
	expected []float64
	params   Params
	counts   []int
	n        int
	sides    []Side
	decision Decision
	// intervals is the running intersection of the confidence sequences
	// over every batch (valid because they hold at all n at once).
	intervals []Interval
	// skipIntervals saves the interval work in simulations.
	skipIntervals bool
	// batches are the observed counts, batch by batch, for [BurstTest].
	batches [][]int
}

// NewSplit returns a test that backends names get shares expected (which
// must be non-negative and sum to 1 within 1e-9; pass weights through
// [Shares] first).
func NewSplit(names []string, expected []float64, params Params) (*Split, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	params = params.withDefaults()
	if len(names) != len(expected) {
		return nil, fmt.Errorf("%w: %d names but %d shares", ErrBadParams, len(names), len(expected))
	}
	if len(expected) < 2 {
		return nil, fmt.Errorf("%w: a split needs at least 2 categories, got %d", ErrBadParams, len(expected))
	}
	sum := 0.0
	for i, p := range expected {
		if !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("%w: share of %q is %g, must be in [0, 1]", ErrBadParams, names[i], p)
		}
		sum += p
	}
	if math.Abs(sum-1) > 1e-9 {
		return nil, fmt.Errorf("%w: shares sum to %g, must sum to 1", ErrBadParams, sum)
	}
	s := &Split{
		names:    append([]string(nil), names...),
		expected: append([]float64(nil), expected...),
		params:   params,
		counts:   make([]int, len(expected)),
		decision: Continue,
	}
	s.sides = buildSides(expected, params)
	for range expected {
		s.intervals = append(s.intervals, Interval{Lo: 0, Hi: 1})
	}
	s.update()
	return s, nil
}

func buildSides(expected []float64, params Params) []Side {
	backends := len(expected)
	if backends == 2 {
		backends = 1 // the second backend's sides mirror the first's
	}
	var sides []Side
	m := 0
	for i := range backends {
		for _, sign := range []int{+1, -1} {
			p0 := expected[i]
			p1 := p0 + float64(sign)*params.Delta
			sd := Side{Backend: i, Sign: sign, P0: p0, P1: p1, Decision: Continue}
			if p1 < 0 || p1 > 1 {
				// No share can be δ off on this side.
				sd.Decision = verdict.Pass
			} else if p0 > 0 && p0 < 1 {
				m++
			}
			sd.hit = logRatio(p1, p0)
			sd.miss = logRatio(1-p1, 1-p0)
			sides = append(sides, sd)
		}
	}
	m = max(m, 1)
	for i := range sides {
		sides[i].Upper = math.Log(float64(m) / params.Alpha)
		sides[i].Lower = math.Log(params.Beta)
	}
	return sides
}

// logRatio is log(a/b) with log(0/0) = 0 (an observation impossible under
// both hypotheses carries no evidence; it cannot happen anyway).
func logRatio(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Log(a) - math.Log(b)
}

// Params returns the parameters in use, defaults applied.
func (s *Split) Params() Params { return s.params }

// Next returns how many requests to send before the next [Split.Observe]:
// a batch, or what is left of the budget, or 0 once decided.
func (s *Split) Next() int {
	if s.decision != Continue {
		return 0
	}
	return min(s.params.Batch, s.params.Budget-s.n)
}

// Observe adds a batch of counts, one per backend, and returns the decision.
// Observing after a decision is an error: the guarantees hold for the
// decision already taken.
func (s *Split) Observe(counts []int) (Decision, error) {
	if len(counts) != len(s.counts) {
		return s.decision, fmt.Errorf("observe counts: got %d counts for %d backends", len(counts), len(s.counts))
	}
	if s.decision != Continue {
		return s.decision, fmt.Errorf("observe counts: test already decided %s", s.decision)
	}
	for i, c := range counts {
		if c < 0 {
			return s.decision, fmt.Errorf("observe counts: count %d of %q is negative", c, s.names[i])
		}
	}
	for i, c := range counts {
		s.counts[i] += c
		s.n += c
	}
	s.batches = append(s.batches, append([]int(nil), counts...))
	s.update()
	return s.decision, nil
}

// Batches returns a copy of the counts observed, batch by batch, in order
// (for [BurstTest]).
func (s *Split) Batches() [][]int {
	out := make([][]int, len(s.batches))
	for i, b := range s.batches {
		out[i] = append([]int(nil), b...)
	}
	return out
}

// N returns the number of requests observed.
func (s *Split) N() int { return s.n }

// Decision returns the current decision.
func (s *Split) Decision() Decision { return s.decision }

func (s *Split) update() {
	if s.n == 0 {
		return
	}
	s.narrow()
	allPass := true
	for i := range s.sides {
		sd := &s.sides[i]
		if sd.Decision != Continue {
			continue
		}
		sd.LogLR = logLR(s.counts[sd.Backend], s.n-s.counts[sd.Backend], sd.hit, sd.miss)
		sd.N = s.n
		switch {
		case sd.LogLR >= sd.Upper:
			sd.Decision = verdict.Fail
		case sd.LogLR <= sd.Lower:
			sd.Decision = verdict.Pass
		}
	}
	for _, sd := range s.sides {
		if sd.Decision == verdict.Fail {
			s.decision = verdict.Fail
			return
		}
		if sd.Decision != verdict.Pass {
			allPass = false
		}
	}
	switch {
	case allPass:
		s.decision = verdict.Pass
	case s.n >= s.params.Budget:
		s.decision = verdict.Inconclusive
	}
}

// logLR is hits·hit + misses·miss with 0·±Inf = 0.
func logLR(hits, misses int, hit, miss float64) float64 {
	v := 0.0
	if hits > 0 {
		v += float64(hits) * hit
	}
	if misses > 0 {
		v += float64(misses) * miss
	}
	return v
}

// Evidence returns a copy of the evidence so far.
func (s *Split) Evidence() Evidence {
	e := Evidence{
		Names:    append([]string(nil), s.names...),
		Expected: append([]float64(nil), s.expected...),
		Counts:   append([]int(nil), s.counts...),
		N:        s.n,
		Level:    1 - IntervalGamma(s.params),
		Sides:    append([]Side(nil), s.sides...),
		Params:   s.params,
		Decision: s.decision,
	}
	e.Intervals = append(e.Intervals, s.intervals...)
	for i := range e.Sides {
		// JSON has no infinities; ±1e300 stands for them.
		e.Sides[i].LogLR = math.Max(-1e300, math.Min(1e300, e.Sides[i].LogLR))
	}
	return e
}

// narrow intersects each backend's interval with the confidence sequence at
// the current n. If the intersection would be empty — the shares changed
// while sampling, which the guarantee does not cover — the interval at the
// current n is kept instead.
func (s *Split) narrow() {
	if s.skipIntervals {
		return
	}
	for i, c := range s.counts {
		lo, hi := ConfidenceSequence(c, s.n, IntervalGamma(s.params), s.params.Delta)
		iv := Interval{Lo: max(lo, s.intervals[i].Lo), Hi: min(hi, s.intervals[i].Hi)}
		if iv.Lo > iv.Hi {
			iv = Interval{Lo: lo, Hi: hi}
		}
		s.intervals[i] = iv
	}
}

// IntervalGamma is the error rate of the intervals in [Evidence]: 4β, the
// level at which they agree with the test's decisions (see
// [ConfidenceSequence]); 99.6% confidence for the default β.
func IntervalGamma(p Params) float64 {
	p = p.withDefaults()
	return math.Min(4*p.Beta, 0.5)
}

// Observed returns the observed shares (all 0 before any request).
func (e Evidence) Observed() []float64 {
	out := make([]float64, len(e.Counts))
	if e.N == 0 {
		return out
	}
	for i, c := range e.Counts {
		out[i] = float64(c) / float64(e.N)
	}
	return out
}

// Run drives a test with draw, which must send n requests and return the
// count per backend, until it is decided.
func (s *Split) Run(draw func(n int) ([]int, error)) (Decision, error) {
	for s.decision == Continue {
		counts, err := draw(s.Next())
		if err != nil {
			return s.decision, fmt.Errorf("draw batch: %w", err)
		}
		total := 0
		for _, c := range counts {
			total += c
		}
		if total == 0 {
			return s.decision, fmt.Errorf("draw batch: no response was attributed to any of %v; check the client and the backends' identities", s.names)
		}
		if _, err := s.Observe(counts); err != nil {
			return s.decision, err
		}
	}
	return s.decision, nil
}

// ExpectZero is the one-sided test that a share is 0 (a weight-0 backend
// gets nothing), q = 0 against q ≥ ZeroDelta: any hit FAILs, and the check
// PASSes once n requests without a hit make a share ≥ ZeroDelta improbable
// below β, i.e. n ≥ [ZeroRequests](ZeroDelta, β). Its false-fail rate is
// 0: a correct implementation can never FAIL it. Its miss rate is ≤ β for
// any share ≥ ZeroDelta and (1−q)^n for a share q (see [ZeroMissRate]).
func ExpectZero(hits, n int, params Params) Decision {
	params = params.withDefaults()
	switch {
	case hits > 0:
		return verdict.Fail
	case n >= ZeroRequests(params.ZeroDelta, params.Beta):
		return verdict.Pass
	case n >= params.Budget:
		return verdict.Inconclusive
	}
	return Continue
}

// ZeroRequests is the number of hit-free requests that prove a share below
// delta with miss rate beta: the least n with (1−δ)^n ≤ β.
func ZeroRequests(delta, beta float64) int {
	return int(math.Ceil(math.Log(beta) / math.Log1p(-delta)))
}

// ZeroMissRate is the probability that n requests show no hit on a backend
// whose true share is q: (1−q)^n, the rate at which a zero check of n
// requests passes a backend that gets the share q.
func ZeroMissRate(q float64, n int) float64 {
	return math.Exp(float64(n) * math.Log1p(-q))
}
