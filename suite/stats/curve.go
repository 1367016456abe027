package stats

import (
	"fmt"
	"math"
)

// OCPoint is the operating characteristic at one true deviation of a
// two-backend split.
type OCPoint struct {
	// Deviation is how many points (hundredths of a share) the first
	// backend's true share lies below its expected share; negative when it
	// lies above.
	Deviation float64 `json:"deviation"`
	// TrueShare is the first backend's true share.
	TrueShare float64 `json:"trueShare"`
	OC
}

// OCCurve is the operating characteristic of a two-backend split test as a
// function of the true deviation, in both directions.
type OCCurve struct {
	// Expected is the first backend's expected share, e.g. 0.9 for 90/10.
	Expected float64 `json:"expected"`
	// Params are the test's parameters, defaults applied.
	Params Params `json:"params"`
	// Below holds the points where the first (larger) backend gets less
	// than expected, Deviation 0, Step, 2·Step, …; Above those where it
	// gets more (Deviation 0, −Step, …), as far as a share of 1.
	Below []OCPoint `json:"below"`
	Above []OCPoint `json:"above"`
}

// Curve computes the exact operating characteristic (see
// [OperatingCharacteristic]) of a split with expected shares (expected,
// 1−expected) at true deviations 0, step, 2·step, … up to maxPoints points,
// in both directions. For the defaults, 21 deviations each way take about
// a second.
func Curve(params Params, expected, maxPoints, step float64) (OCCurve, error) {
	if err := params.Validate(); err != nil {
		return OCCurve{}, err
	}
	if !(step > 0 && maxPoints >= 0 && maxPoints/step <= 1000) {
		return OCCurve{}, fmt.Errorf("%w: deviations up to %g points in steps of %g", ErrBadParams, maxPoints, step)
	}
	c := OCCurve{Expected: expected, Params: params.withDefaults()}
	for i := 0; float64(i)*step <= maxPoints+1e-9; i++ {
		dev := float64(i) * step
		for _, sign := range []float64{+1, -1} {
			// Round to 1e-9 so that 0.9 − 0.025 is the share 0.875 the
			// table shows.
			q := math.Round((expected-sign*dev/100)*1e9) / 1e9
			if q < 0 || q > 1 || (sign < 0 && dev == 0) {
				continue
			}
			oc, err := OperatingCharacteristic(params, expected, q)
			if err != nil {
				return OCCurve{}, fmt.Errorf("compute the operating characteristic at %g points: %w", sign*dev, err)
			}
			pt := OCPoint{Deviation: sign * dev, TrueShare: q, OC: oc}
			if sign > 0 {
				c.Below = append(c.Below, pt)
			} else {
				c.Above = append(c.Above, pt)
			}
		}
	}
	if len(c.Below) > 0 {
		// Deviation 0 belongs to both directions.
		c.Above = append([]OCPoint{c.Below[0]}, c.Above...)
	}
	return c, nil
}

// DefaultCurves are the operating characteristics the documentation and
// the report show: the seed's 90/10 and mesh-weight's 70/30 at the default
// parameters, true deviations 0 to 10 points in steps of half a point.
func DefaultCurves() ([]OCCurve, error) {
	var out []OCCurve
	for _, p := range []float64{0.9, 0.7} {
		c, err := Curve(DefaultParams(), p, 10, 0.5)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Retried is the exact operating characteristic of a check that runs up to
// attempts tests one after another, as suite/check does while a route
// converges: each attempt gets the error rates [ErrorBudget] gives it
// (α/2, β/2, then α/4, β/4, …), a FAIL is retried, a PASS or an
// INCONCLUSIVE ends the check. MeanN counts the requests of all attempts.
// The split is assumed not to change between attempts, so inside the
// indifference zone every FAIL is another chance to PASS; beyond δ the
// miss rate over all attempts stays ≤ β.
func Retried(params Params, expected, trueShare float64, attempts int) (OC, error) {
	if attempts < 1 {
		return OC{}, fmt.Errorf("%w: %d attempts, want at least 1", ErrBadParams, attempts)
	}
	budget := &ErrorBudget{Params: params}
	var out OC
	reach := 1.0 // probability that this attempt happens
	for range attempts {
		p, ok := budget.Next()
		if !ok {
			break
		}
		oc, err := OperatingCharacteristic(p, expected, trueShare)
		if err != nil {
			return OC{}, err
		}
		out.Pass += reach * oc.Pass
		out.Inconclusive += reach * oc.Inconclusive
		out.MeanN += reach * oc.MeanN
		reach *= oc.Fail
	}
	out.Fail = reach
	out.P99N = -1 // not computed over attempts
	return out, nil
}
