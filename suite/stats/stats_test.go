package stats

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

func TestNewSplitErrors(t *testing.T) {
	tests := []struct {
		name   string
		names  []string
		shares []float64
		params Params
	}{
		{"length mismatch", []string{"a"}, []float64{0.5, 0.5}, Params{}},
		{"one category", []string{"a"}, []float64{1}, Params{}},
		{"negative share", []string{"a", "b"}, []float64{-0.1, 1.1}, Params{}},
		{"sum not 1", []string{"a", "b"}, []float64{0.5, 0.6}, Params{}},
		{"NaN share", []string{"a", "b"}, []float64{math.NaN(), 1}, Params{}},
		{"alpha 1", []string{"a", "b"}, []float64{0.5, 0.5}, Params{Alpha: 1}},
		{"beta negative", []string{"a", "b"}, []float64{0.5, 0.5}, Params{Beta: -1}},
		{"delta in points", []string{"a", "b"}, []float64{0.5, 0.5}, Params{Delta: 5}},
		{"negative budget", []string{"a", "b"}, []float64{0.5, 0.5}, Params{Budget: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSplit(tt.names, tt.shares, tt.params)
			if !errors.Is(err, ErrBadParams) {
				t.Fatalf("NewSplit: got %v, want ErrBadParams", err)
			}
		})
	}
}

func TestSplitDecisions(t *testing.T) {
	tests := []struct {
		name    string
		shares  []float64
		batches [][]int
		want    Decision
		wantN   int
	}{
		{"70/30 exact", []float64{0.7, 0.3}, repeat([]int{1400, 600}, 1), verdict.Pass, 2000},
		{"70/30 observed 60/40", []float64{0.7, 0.3}, repeat([]int{600, 400}, 1), verdict.Fail, 1000},
		{"70/30 too few", []float64{0.7, 0.3}, repeat([]int{70, 30}, 1), Continue, 100},
		{"weight 0 hit", []float64{1, 0}, repeat([]int{99, 1}, 1), verdict.Fail, 100},
		{"weight 0 clean", []float64{1, 0}, repeat([]int{135, 0}, 1), verdict.Pass, 135},
		{"weight 0 not yet", []float64{1, 0}, repeat([]int{134, 0}, 1), Continue, 134},
		{"all 500 one miss", []float64{0, 1}, repeat([]int{1, 200}, 1), verdict.Fail, 201},
		{"three way exact", []float64{0.5, 0.3, 0.2}, repeat([]int{1000, 600, 400}, 2), verdict.Pass, 2000},
		{"three way third off", []float64{0.5, 0.3, 0.2}, repeat([]int{1000, 400, 600}, 1), verdict.Fail, 2000},
		{"indifference zone to budget", []float64{0.7, 0.3}, repeat([]int{135, 65}, 100), verdict.Inconclusive, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := make([]string, len(tt.shares))
			for i := range names {
				names[i] = string(rune('a' + i))
			}
			s, err := NewSplit(names, tt.shares, Params{Budget: 20000})
			if err != nil {
				t.Fatal(err)
			}
			var d Decision
			for _, b := range tt.batches {
				if d, err = s.Observe(b); err != nil {
					t.Fatal(err)
				}
				if d != Continue {
					break
				}
			}
			e := s.Evidence()
			if d != tt.want || e.N != tt.wantN {
				t.Fatalf("got %s after %d, want %s after %d; evidence %+v", d, e.N, tt.want, tt.wantN, e)
			}
			for i, iv := range e.Intervals {
				obs, p := e.Observed()[i], e.Expected[i]
				if !(iv.Lo <= obs && obs <= iv.Hi) {
					t.Errorf("interval %v does not hold observed share %v", iv, obs)
				}
				// The intervals agree with the decision.
				if d == verdict.Pass && (iv.Lo < p-0.05-1e-6 && p-0.05 >= 0 || iv.Hi > p+0.05+1e-6 && p+0.05 <= 1) {
					t.Errorf("PASS but interval %v of %s reaches expected %v ± 0.05", iv, e.Names[i], p)
				}
				if d == verdict.Fail && len(e.Expected) == 2 && iv.Lo <= p && p <= iv.Hi {
					t.Errorf("FAIL but interval %v of %s holds expected %v", iv, e.Names[i], p)
				}
			}
		})
	}
}

func repeat(b []int, n int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestObserveErrors(t *testing.T) {
	s, err := NewSplit([]string{"a", "b"}, []float64{1, 0}, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Observe([]int{1}); err == nil {
		t.Error("Observe with wrong length: no error")
	}
	if _, err := s.Observe([]int{-1, 0}); err == nil {
		t.Error("Observe with negative count: no error")
	}
	if d, _ := s.Observe([]int{0, 1}); d != verdict.Fail {
		t.Fatalf("got %s, want FAIL", d)
	}
	if _, err := json.Marshal(s.Evidence()); err != nil {
		t.Errorf("evidence of an infinite likelihood ratio does not encode: %v", err)
	}
	if _, err := s.Observe([]int{1, 0}); err == nil {
		t.Error("Observe after decision: no error")
	}
	empty, err := NewSplit([]string{"a", "b"}, []float64{0.5, 0.5}, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Run(func(n int) ([]int, error) { return []int{0, 0}, nil }); err == nil {
		t.Error("Run with empty batches: no error (it would loop forever)")
	}
	if s.Next() != 0 {
		t.Errorf("Next after decision = %d, want 0", s.Next())
	}
}

func TestExpectZero(t *testing.T) {
	if got := ZeroRequests(0.05, 1e-3); got != 135 {
		t.Errorf("ZeroRequests = %d, want 135", got)
	}
	// A retried check's attempts get β/2, β/4, … from the ErrorBudget (see
	// doc.go): its first attempt needs 149 clean requests, not 135.
	b := ErrorBudget{}
	for i, want := range []int{149, 162, 176} {
		p, _ := b.Next()
		if got := ZeroRequests(p.Delta, p.Beta); got != want {
			t.Errorf("attempt %d: ZeroRequests(δ, %g) = %d, want %d", i, p.Beta, got, want)
		}
	}
	tests := []struct {
		hits, n int
		want    Decision
	}{
		{1, 1, verdict.Fail}, {0, 1378, Continue}, {0, 1379, verdict.Pass}, {3, 10000, verdict.Fail},
	}
	// ExpectZero tests against ZeroDelta (0.5%), not δ: 1379 clean
	// requests at β = 1e-3, and a backend getting 1% slips through with
	// probability 0.99^1379 ≈ 1e-6, where 135 requests (δ = 5%) let it
	// through 26% of the time.
	if got := ZeroRequests(DefaultZeroDelta, 1e-3); got != 1379 {
		t.Errorf("ZeroRequests(ZeroDelta) = %d, want 1379", got)
	}
	if got := ZeroMissRate(0.01, 1379); got > 1e-5 {
		t.Errorf("ZeroMissRate(1%%, 1379) = %g, want ≤ 1e-5", got)
	}
	if got := ZeroMissRate(0.01, 135); got < 0.25 || got > 0.27 {
		t.Errorf("ZeroMissRate(1%%, 135) = %g, want ≈ 0.26", got)
	}
	for _, tt := range tests {
		if got := ExpectZero(tt.hits, tt.n, Params{}); got != tt.want {
			t.Errorf("ExpectZero(%d, %d) = %s, want %s", tt.hits, tt.n, got, tt.want)
		}
	}
	if got := ExpectZero(0, 50, Params{Budget: 50}); got != verdict.Inconclusive {
		t.Errorf("ExpectZero at budget = %s, want INCONCLUSIVE", got)
	}
}

func TestErrorBudget(t *testing.T) {
	b := ErrorBudget{Params: Params{Alpha: 1e-6, Beta: 1e-3}}
	sumA, sumB := 0.0, 0.0
	for range 60 {
		p, ok := b.Next()
		if !ok {
			t.Fatal("geometric budget refused an attempt")
		}
		sumA += p.Alpha
		sumB += p.Beta
	}
	if sumA > 1e-6 || sumB > 1e-3 {
		t.Errorf("60 attempts spent α=%g β=%g, over 1e-6/1e-3", sumA, sumB)
	}
	if a, _ := b.Spent(); math.Abs(a-sumA) > 1e-18 {
		t.Errorf("Spent α = %g, summed %g", a, sumA)
	}
	eq := ErrorBudget{MaxAttempts: 10}
	n := 0
	for {
		p, ok := eq.Next()
		if !ok {
			break
		}
		n++
		if p.Alpha != DefaultAlpha/10 {
			t.Errorf("equal split α = %g, want %g", p.Alpha, DefaultAlpha/10)
		}
	}
	if n != 10 {
		t.Errorf("MaxAttempts 10 allowed %d attempts", n)
	}
}

func TestConfidenceSequence(t *testing.T) {
	tests := []struct {
		hits, n int
		lo, hi  float64 // the interval must contain [lo, hi] and stay within ±0.1 of it
	}{
		{700, 1000, 0.7, 0.7},
		{0, 1000, 0, 0},
		{1000, 1000, 1, 1},
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		lo, hi := ConfidenceSequence(tt.hits, tt.n, 4e-3, 0.05)
		if lo > tt.lo || hi < tt.hi || tt.lo-lo > 0.1 || hi-tt.hi > 0.1 {
			t.Errorf("ConfidenceSequence(%d, %d) = [%g, %g], want around [%g, %g]", tt.hits, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	// Narrower with more data.
	lo1, hi1 := ConfidenceSequence(70, 100, 4e-3, 0.05)
	lo2, hi2 := ConfidenceSequence(7000, 10000, 4e-3, 0.05)
	if !(hi2-lo2 < (hi1-lo1)/5) {
		t.Errorf("width at n=10^4 %g not well below width at n=100 %g", hi2-lo2, hi1-lo1)
	}
}

func TestWaldASN(t *testing.T) {
	// Under p0 the ASN is about log(1/β)/KL(p0||p1).
	p0, p1 := 0.7, 0.65
	kl := p0*math.Log(p0/p1) + (1-p0)*math.Log((1-p0)/(1-p1))
	want := math.Log(1/1e-3) / kl
	if got := WaldASN(p0, p1, 1e-6, 1e-3, p0); math.Abs(got-want)/want > 0.01 {
		t.Errorf("WaldASN at p0 = %g, want ≈ %g", got, want)
	}
}

func TestUpstreamExactMatchesDesign(t *testing.T) {
	// docs/architecture.md: upstream's scheme (up to 10 attempts) passes a
	// true 62/38 at 70/30 61% of the time, 60/40 12%, and a true 82/18 at
	// 90/10 29%.
	tests := []struct{ p, q, want float64 }{
		{0.7, 0.62, 0.61}, {0.7, 0.60, 0.12}, {0.9, 0.82, 0.29},
	}
	for _, tt := range tests {
		if got := UpstreamExact(tt.p, tt.q).Pass; math.Abs(got-tt.want) > 0.01 {
			t.Errorf("upstream pass at %v/%v = %.3f, want %.2f", tt.p, tt.q, got, tt.want)
		}
	}
}
