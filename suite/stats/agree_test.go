package stats

import (
	"math/rand/v2"
	"testing"
)

// TestAgree: two samples of one distribution agree (at level 1e-3 per
// category, so nearly always); samples of distributions 10 points apart,
// or with a category only one of them has, do not, and the category is
// named.
func TestAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	draw := func(n int, p float64) map[string]int {
		m := map[string]int{}
		for range n {
			if rng.Float64() < p {
				m["backend v1"]++
			} else {
				m["backend v2"]++
			}
		}
		return m
	}
	disagree := 0
	for range 1000 {
		if ok, _ := Agree(draw(500, 0.82), 500, draw(300, 0.82), 300, 0); !ok {
			disagree++
		}
	}
	if disagree > 10 {
		t.Errorf("same distribution: %d of 1000 pairs disagree, want about 1", disagree)
	}
	tests := []struct {
		name     string
		a, b     map[string]int
		na, nb   int
		want     bool
		category string
	}{
		{"10 points apart", map[string]int{"backend v1": 820, "backend v2": 180}, map[string]int{"backend v1": 720, "backend v2": 280}, 1000, 1000, false, ""},
		{"another backend", map[string]int{"backend v2": 100}, map[string]int{"backend v3": 100}, 100, 100, false, "backend v2"},
		{"identical", map[string]int{"backend v2": 100, "status 200": 100}, map[string]int{"backend v2": 300, "status 200": 300}, 100, 300, true, ""},
		{"small counts", map[string]int{"backend v2": 1}, map[string]int{"backend v2": 3}, 100, 300, true, ""},
	}
	for _, tt := range tests {
		ok, d := Agree(tt.a, tt.na, tt.b, tt.nb, 0)
		if ok != tt.want || !ok && (d.Category == "" || tt.category != "" && d.Category != tt.category) {
			t.Errorf("%s: Agree = %v %+v, want %v naming %q", tt.name, ok, d, tt.want, tt.category)
		}
	}
}
