package perf

import (
	"strings"
	"testing"
)

func TestCompareRPS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     []float64
		want     RPSComparison
		wantErr  string
		wantText string
	}{
		{name: "b faster in every round", a: []float64{100, 200, 150}, b: []float64{110, 220, 180},
			want:     RPSComparison{A: 150, B: 180, Ratio: 1.2, MinRatio: 1.1, MaxRatio: 1.2, BAhead: 3, Rounds: 3, Verdict: GoalMet},
			wantText: "150 vs 180 req/s (median of 3 rounds), 1.20× (rounds 1.10× to 1.20×, at least as fast in 3 of 3)"},
		{name: "equal medians meet the goal", a: []float64{100, 100}, b: []float64{90, 100},
			want: RPSComparison{A: 100, B: 100, Ratio: 1, MinRatio: 0.9, MaxRatio: 1, BAhead: 1, Rounds: 2, Verdict: GoalMet}},
		{name: "b slower by the median though faster once", a: []float64{100, 100, 100}, b: []float64{80, 120, 90},
			want: RPSComparison{A: 100, B: 90, Ratio: 0.9, MinRatio: 0.8, MaxRatio: 1.2, BAhead: 1, Rounds: 3, Verdict: GoalMissed}},
		{name: "no rounds", wantErr: "same number of rounds"},
		{name: "rounds differ", a: []float64{1, 2}, b: []float64{1}, wantErr: "same number of rounds"},
		{name: "zero rate", a: []float64{0}, b: []float64{1}, wantErr: "positive rates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareRPS(tc.a, tc.b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("CompareRPS = %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.Ratio, tc.want.Ratio) || !near(got.MinRatio, tc.want.MinRatio) || !near(got.MaxRatio, tc.want.MaxRatio) {
				t.Errorf("ratios = %g (%g to %g), want %g (%g to %g)", got.Ratio, got.MinRatio, got.MaxRatio, tc.want.Ratio, tc.want.MinRatio, tc.want.MaxRatio)
			}
			got.Ratio, got.MinRatio, got.MaxRatio = tc.want.Ratio, tc.want.MinRatio, tc.want.MaxRatio
			if got != tc.want {
				t.Errorf("CompareRPS = %+v, want %+v", got, tc.want)
			}
			if tc.wantText != "" && got.String() != tc.wantText {
				t.Errorf("String = %q, want %q", got.String(), tc.wantText)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 3}, // the upper of the two middle ones
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.in, got, tc.want)
		}
	}
}
