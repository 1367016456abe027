package stats

import (
	"maps"
	"math"
	"slices"
)

// DefaultAgreeLevel is the level of [Agree]'s test per category.
const DefaultAgreeLevel = 1e-3

// Disagreement names the category in which two samples differ most.
type Disagreement struct {
	// Category is the key whose shares differ.
	Category string `json:"category"`
	// A and B are the category's shares in the two samples.
	A float64 `json:"a"`
	B float64 `json:"b"`
	// Z is the two-proportion z statistic (pooled variance).
	Z float64 `json:"z"`
}

// Agree tests whether two samples of categorical counts (a of na
// observations, b of nb; a category missing from a map counts 0) are
// consistent with one distribution: for every category, a two-proportion
// z-test with pooled variance at two-sided level level (0 means
// [DefaultAgreeLevel]). It returns true, or false and the category with the
// largest |z|. The test is the normal approximation, run per category
// without a multiplicity correction: it errs toward "they differ", which in
// suite/check only means waiting longer before a FAIL.
func Agree(a map[string]int, na int, b map[string]int, nb int, level float64) (bool, Disagreement) {
	if level <= 0 || level >= 1 {
		level = DefaultAgreeLevel
	}
	if na <= 0 || nb <= 0 {
		return na == nb, Disagreement{}
	}
	crit := math.Sqrt2 * math.Erfinv(1-level)
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	worst := Disagreement{}
	for _, k := range keys {
		ca, cb := float64(a[k]), float64(b[k])
		p := (ca + cb) / float64(na+nb)
		if p <= 0 || p >= 1 {
			continue
		}
		pa, pb := ca/float64(na), cb/float64(nb)
		z := (pa - pb) / math.Sqrt(p*(1-p)*(1/float64(na)+1/float64(nb)))
		if math.Abs(z) > math.Abs(worst.Z) {
			worst = Disagreement{Category: k, A: pa, B: pb, Z: z}
		}
	}
	return math.Abs(worst.Z) <= crit, worst
}
