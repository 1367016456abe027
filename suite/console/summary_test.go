package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

func results(verdicts ...verdict.Verdict) *report.Results {
	r := &report.Results{Run: report.Run{Implementation: report.Implementation{Name: "acme-mesh"}, Environment: report.EnvExisting, GrantPolicy: "spec"}}
	for i, v := range verdicts {
		s := report.Scenario{Name: "scenario-" + string(rune('a'+i)), Verdict: v, DurationSeconds: 1.25,
			Checks: []report.Check{{Name: "split", Verdict: v, Requests: 100 * (i + 1)}, {Name: "exact", Verdict: verdict.Pass, Requests: 49}}}
		switch v {
		case verdict.Skip:
			s.Error = "needs the strict grant policy; this run uses spec"
			s.Checks = nil
		case verdict.Fail:
			s.Checks[0].Error = "v2 got 0.18 after 900 requests\nmore detail"
		case verdict.Error:
			s.Error = "step \"apply\": no such namespace"
		}
		r.Scenarios = append(r.Scenarios, s)
	}
	return r
}

func TestPassed(t *testing.T) {
	tests := []struct {
		name     string
		verdicts []verdict.Verdict
		want     bool
	}{
		{"all pass", []verdict.Verdict{verdict.Pass, verdict.Pass}, true},
		{"pass and skip", []verdict.Verdict{verdict.Pass, verdict.Skip}, true},
		{"a fail", []verdict.Verdict{verdict.Pass, verdict.Fail}, false},
		{"inconclusive is not a pass", []verdict.Verdict{verdict.Pass, verdict.Inconclusive}, false},
		{"an error", []verdict.Verdict{verdict.Error, verdict.Pass}, false},
		{"only skips: nothing verified", []verdict.Verdict{verdict.Skip}, false},
		{"none ran", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Passed(results(tt.verdicts...).Scenarios); got != tt.want {
				t.Errorf("Passed = %v, want %v", got, tt.want)
			}
			if got := NewSummary(results(tt.verdicts...), nil, time.Second).Passed; got != tt.want {
				t.Errorf("Summary.Passed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSummaryTable(t *testing.T) {
	s := NewSummary(results(verdict.Pass, verdict.Fail, verdict.Skip, verdict.Inconclusive),
		[]string{"reports/latest/results.json", "reports/latest/report.html"}, 83*time.Second+400*time.Millisecond)
	var b bytes.Buffer
	if err := s.Write(&b, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, want := range []string{
		"VERDICT", "SCENARIO", "REQUESTS", "TIME",
		"PASS", "scenario-a", "149", "1.3s",
		"FAIL", "scenario-b", "249", "split: v2 got 0.18 after 900 requests",
		"SKIP", "needs the strict grant policy",
		"INCONCLUSIVE", "scenario-d", "449",
		"NOT PASSED: 1 passed, 1 failed, 1 inconclusive, 0 errors, 1 skipped in 83.4s (implementation acme-mesh, environment existing)",
		"wrote reports/latest/results.json", "open reports/latest/report.html",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "more detail") {
		t.Errorf("table has more than the first line of an error:\n%s", out)
	}
	// Columns line up: every scenario row has its name where the header has SCENARIO.
	col := strings.Index(lines[0], "SCENARIO")
	for _, l := range lines[1:5] {
		if !strings.HasPrefix(l[col:], "scenario-") {
			t.Errorf("row %q: name not in the SCENARIO column (%d)", l, col)
		}
	}
}

func TestSummaryNoScenario(t *testing.T) {
	var b bytes.Buffer
	if err := NewSummary(results(), nil, 0).Write(&b, FormatTable); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "no scenario ran") || !strings.Contains(b.String(), "NOT PASSED") {
		t.Errorf("summary of an empty run:\n%s", b.String())
	}
}

func TestSummaryMachineReadable(t *testing.T) {
	s := NewSummary(results(verdict.Pass, verdict.Error), []string{"r/report.html"}, 2*time.Second)
	for _, format := range []string{FormatJSON, FormatYAML} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := s.Write(&b, format); err != nil {
				t.Fatal(err)
			}
			var back Summary
			var err error
			if format == FormatJSON {
				err = json.Unmarshal(b.Bytes(), &back)
			} else {
				err = yaml.UnmarshalStrict(b.Bytes(), &back)
			}
			if err != nil {
				t.Fatalf("decode %s: %v\n%s", format, err, b.String())
			}
			if back.Passed || back.Implementation != "acme-mesh" || len(back.Scenarios) != 2 || back.HTML != "r/report.html" ||
				back.Totals[verdict.Error] != 1 || back.Totals[verdict.Pass] != 1 || back.Totals[verdict.Fail] != 0 {
				t.Errorf("decoded %+v", back)
			}
			if e := back.Scenarios[1]; e.Verdict != verdict.Error || e.Requests != 249 || !strings.Contains(e.Reason, "no such namespace") {
				t.Errorf("error scenario decoded as %+v", e)
			}
			if back.Scenarios[0].Reason != "" {
				t.Errorf("a passing scenario has a reason: %q", back.Scenarios[0].Reason)
			}
		})
	}
	if err := s.Write(&bytes.Buffer{}, "xml"); err == nil {
		t.Error("Write accepted format xml")
	}
}
