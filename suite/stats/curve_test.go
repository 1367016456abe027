package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCurveEnds checks the exact curves of the defaults against the
// guarantees: at deviation 0 a FAIL is a false fail (≤ α), at 5 points or
// more a PASS is a miss (≤ β); the three outcomes add up to 1.
func TestCurveEnds(t *testing.T) {
	curves, err := DefaultCurves()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range curves {
		if len(c.Below) != 21 {
			t.Errorf("%v: %d points below, want 21 (0 to 10 in steps of 0.5)", c.Expected, len(c.Below))
		}
		for _, pts := range [][]OCPoint{c.Below, c.Above} {
			for _, pt := range pts {
				sum := pt.Pass + pt.Fail + pt.Inconclusive
				if math.Abs(sum-1) > 1e-9 || math.IsNaN(sum) {
					t.Errorf("%v at %g points: outcomes add up to %g", c.Expected, pt.Deviation, sum)
				}
				if !(pt.MeanN > 0 && pt.MeanN <= float64(c.Params.Budget)) {
					t.Errorf("%v at %g points: mean requests %g outside (0, budget]", c.Expected, pt.Deviation, pt.MeanN)
				}
				dev := math.Abs(pt.Deviation) / 100
				if dev == 0 && pt.Fail > c.Params.Alpha {
					t.Errorf("%v exactly right: P(FAIL) %g exceeds α %g", c.Expected, pt.Fail, c.Params.Alpha)
				}
				if dev >= c.Params.Delta-1e-12 && pt.Pass > c.Params.Beta {
					t.Errorf("%v at %g points: P(PASS) %g exceeds β %g", c.Expected, pt.Deviation, pt.Pass, c.Params.Beta)
				}
			}
		}
	}
	// 90/10: the larger backend can get 10 points more only as 100/0.
	if last := curves[0].Above[len(curves[0].Above)-1]; last.TrueShare != 1 || last.Fail < 1-1e-12 {
		t.Errorf("90/10 at 100/0: %+v, want a certain FAIL", last)
	}
}

// TestCurveMatchesSimulation compares the exact figures with the simulation
// of sim_test.go at points inside the indifference zone, where all three
// outcomes are likely: within 5 standard errors.
func TestCurveMatchesSimulation(t *testing.T) {
	const runs = 2000
	rng := rand.New(rand.NewPCG(3, 4))
	params := DefaultParams()
	for _, tt := range []struct{ p, q float64 }{
		{0.9, 0.875}, {0.9, 0.93}, {0.7, 0.675}, {0.7, 0.67}, {0.7, 0.725},
	} {
		exact, err := OperatingCharacteristic(params, tt.p, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		sim := simulate(rng, runs, tt.q, ours(tt.p, params))
		for _, o := range []struct {
			name       string
			exact, sim float64
		}{{"PASS", exact.Pass, sim.Pass}, {"FAIL", exact.Fail, sim.Fail}, {"INCONCLUSIVE", exact.Inconclusive, sim.Inconclusive}} {
			se := math.Sqrt(o.exact*(1-o.exact)/runs) + 1.0/runs
			if math.Abs(o.sim-o.exact) > 5*se {
				t.Errorf("%v/%v: simulated P(%s) %.4f, exact %.4f (5 se = %.4f)", tt.p, tt.q, o.name, o.sim, o.exact, 5*se)
			}
		}
		// The mean of at most 20000 requests: its standard error is at
		// most 20000/√runs/2 ≈ 224; the relative check below is tighter
		// where the spread is small.
		if rel := math.Abs(sim.MeanN-exact.MeanN) / exact.MeanN; rel > 0.08 {
			t.Errorf("%v/%v: simulated mean requests %.0f, exact %.0f", tt.p, tt.q, sim.MeanN, exact.MeanN)
		}
		t.Logf("%v/%v exact P/F/I %.4f/%.4f/%.4f mean %.0f; simulated %.4f/%.4f/%.4f mean %.0f",
			tt.p, tt.q, exact.Pass, exact.Fail, exact.Inconclusive, exact.MeanN, sim.Pass, sim.Fail, sim.Inconclusive, sim.MeanN)
	}
}

func TestCurveErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		params    Params
		max, step float64
	}{
		{"zero step", Params{}, 10, 0},
		{"too many points", Params{}, 10, 0.001},
		{"bad alpha", Params{Alpha: 2}, 10, 0.5},
	} {
		if _, err := Curve(tt.params, 0.7, tt.max, tt.step); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := OperatingCharacteristic(Params{}, 1.5, 0.5); err == nil {
		t.Error("expected share 1.5: no error")
	}
}

// TestRetried checks the check's operating characteristic over attempts:
// one attempt is one test at α/2, β/2; more attempts can only turn FAILs
// into PASSes or INCONCLUSIVEs, and beyond δ the miss rate stays ≤ β.
func TestRetried(t *testing.T) {
	params := DefaultParams()
	one, err := Retried(params, 0.7, 0.67, 1)
	if err != nil {
		t.Fatal(err)
	}
	half := params
	half.Alpha, half.Beta = params.Alpha/2, params.Beta/2
	direct, err := OperatingCharacteristic(half, 0.7, 0.67)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(one.Pass-direct.Pass) > 1e-12 || math.Abs(one.Fail-direct.Fail) > 1e-12 {
		t.Errorf("one attempt %+v, want the test at α/2, β/2 %+v", one, direct)
	}
	three, err := Retried(params, 0.7, 0.67, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !(three.Pass > one.Pass+0.1 && three.Fail < one.Fail) {
		t.Errorf("3 points off: one attempt PASS %.3f FAIL %.3f, three attempts PASS %.3f FAIL %.3f; want retries to pass it more often", one.Pass, one.Fail, three.Pass, three.Fail)
	}
	if sum := three.Pass + three.Fail + three.Inconclusive; math.Abs(sum-1) > 1e-9 {
		t.Errorf("three attempts: outcomes add up to %g", sum)
	}
	far, err := Retried(params, 0.7, 0.65, 20)
	if err != nil {
		t.Fatal(err)
	}
	if far.Pass > params.Beta {
		t.Errorf("5 points off, 20 attempts: P(PASS) %g exceeds β", far.Pass)
	}
	if _, err := Retried(params, 0.7, 0.7, 0); err == nil {
		t.Error("0 attempts: no error")
	}
}

// BenchmarkOperatingCharacteristic measures one exact operating
// characteristic at the defaults near the tolerance (70/30 expected, 67%
// true), where the test runs longest.
func BenchmarkOperatingCharacteristic(b *testing.B) {
	for b.Loop() {
		if _, err := OperatingCharacteristic(DefaultParams(), 0.7, 0.67); err != nil {
			b.Fatal(err)
		}
	}
}
