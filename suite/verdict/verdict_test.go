package verdict

import "testing"

func TestValid(t *testing.T) {
	for _, v := range All {
		if !v.Valid() {
			t.Errorf("%s is not Valid", v)
		}
	}
	for _, v := range []Verdict{"", "pass", "CONTINUE"} {
		if v.Valid() {
			t.Errorf("%q is Valid", v)
		}
	}
}

func TestWorse(t *testing.T) {
	order := []Verdict{Pass, Skip, Inconclusive, Fail, Error}
	for i, a := range order {
		for j, b := range order {
			if got, want := a.Worse(b), i > j; got != want {
				t.Errorf("%s.Worse(%s) = %v, want %v", a, b, got, want)
			}
		}
	}
	if !Verdict("BOGUS").Worse(Fail) || Verdict("BOGUS").Worse(Error) {
		t.Error("an unknown verdict should rank as ERROR")
	}
}
