// Package verdict names the outcomes of a check, a scenario and a run. The
// statistics, the checks and the reports all speak these words.
package verdict

// Verdict is the outcome of a check or a scenario.
type Verdict string

// Verdicts. INCONCLUSIVE (budget spent before the data decided) is never a
// pass; ERROR means the check could not run (setup failed, client
// unreachable); SKIP means the scenario did not apply to the run.
const (
	Pass         Verdict = "PASS"
	Fail         Verdict = "FAIL"
	Inconclusive Verdict = "INCONCLUSIVE"
	Error        Verdict = "ERROR"
	Skip         Verdict = "SKIP"
)

// All lists every verdict, in report order.
var All = []Verdict{Pass, Fail, Inconclusive, Error, Skip}

// Valid reports whether v is one of [All].
func (v Verdict) Valid() bool {
	for _, w := range All {
		if v == w {
			return true
		}
	}
	return false
}

// Worse reports whether v is worse than w when outcomes are merged (a
// scenario from its checks, an upstream test from its scenarios): ERROR,
// then FAIL, INCONCLUSIVE, SKIP and PASS. A verdict outside [All] counts as
// ERROR.
func (v Verdict) Worse(w Verdict) bool { return v.rank() > w.rank() }

func (v Verdict) rank() int {
	switch v {
	case Pass:
		return 0
	case Skip:
		return 1
	case Inconclusive:
		return 2
	case Fail:
		return 3
	}
	return 4
}
