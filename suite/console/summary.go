package console

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Output formats of a [Summary] (-o).
const (
	FormatTable = ""
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Formats lists the accepted -o values.
var Formats = []string{FormatTable, FormatJSON, FormatYAML}

// Summary is the end of a run: each scenario's verdict, requests and time,
// the totals and where the reports are.
type Summary struct {
	Implementation string  `json:"implementation"`
	Environment    string  `json:"environment"`
	GrantPolicy    string  `json:"grantPolicy,omitempty"`
	Passed         bool    `json:"passed"`
	Seconds        float64 `json:"seconds"`
	// Totals counts scenarios by verdict.
	Totals    map[verdict.Verdict]int `json:"totals"`
	Scenarios []ScenarioLine          `json:"scenarios"`
	// Reports are the files written; HTML is the one to open.
	Reports []string `json:"reports"`
	HTML    string   `json:"html,omitempty"`
}

// ScenarioLine is one scenario in a [Summary].
type ScenarioLine struct {
	Name     string          `json:"name"`
	Verdict  verdict.Verdict `json:"verdict"`
	Requests int             `json:"requests"`
	Seconds  float64         `json:"seconds"`
	// Reason says why a scenario did not pass, or why it was skipped.
	Reason string `json:"reason,omitempty"`
}

// NewSummary summarises results, the reports written from them and how
// long the whole run took.
func NewSummary(res *report.Results, reports []string, took time.Duration) Summary {
	s := Summary{
		Implementation: res.Run.Implementation.Name,
		Environment:    res.Run.Environment,
		GrantPolicy:    res.Run.GrantPolicy,
		Passed:         Passed(res.Scenarios),
		Seconds:        round1(took.Seconds()),
		Totals:         map[verdict.Verdict]int{},
		Scenarios:      []ScenarioLine{},
		Reports:        reports,
	}
	if s.Reports == nil {
		s.Reports = []string{}
	}
	for _, v := range verdict.All {
		s.Totals[v] = 0
	}
	for _, sc := range res.Scenarios {
		s.Totals[sc.Verdict]++
		line := ScenarioLine{Name: sc.Name, Verdict: sc.Verdict, Requests: Requests(sc), Seconds: round1(sc.DurationSeconds)}
		if sc.Verdict != verdict.Pass {
			line.Reason = reason(sc)
		}
		s.Scenarios = append(s.Scenarios, line)
	}
	for _, p := range reports {
		if filepath.Base(p) == report.HTMLFile {
			s.HTML = p
		}
	}
	return s
}

// Passed reports whether scenarios make a passing run: at least one
// scenario, and every one PASS or SKIP. FAIL, INCONCLUSIVE and ERROR are
// not a pass.
func Passed(scenarios []report.Scenario) bool {
	ran := false
	for _, s := range scenarios {
		switch s.Verdict {
		case verdict.Pass:
			ran = true
		case verdict.Skip:
		default:
			return false
		}
	}
	return ran
}

// NotPassed counts the scenarios that neither passed nor were skipped.
func (s Summary) NotPassed() int {
	n := 0
	for v, c := range s.Totals {
		if v != verdict.Pass && v != verdict.Skip {
			n += c
		}
	}
	return n
}

// Write prints s in format: a table (FormatTable), JSON or YAML.
func (s Summary) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable:
		return s.WriteTable(w)
	case FormatJSON:
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case FormatYAML:
		b, err := yaml.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: use json or yaml", format)
}

// WriteTable prints the table: verdict, scenario, requests, seconds (and
// why, for a scenario that did not pass), the totals and the reports.
func (s Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tSCENARIO\tREQUESTS\tTIME\tREASON")
	for _, l := range s.Scenarios {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1fs\t%s\n", l.Verdict, l.Name, l.Requests, l.Seconds, l.Reason)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	result := "PASSED"
	if !s.Passed {
		result = "NOT PASSED"
	}
	fmt.Fprintf(w, "\n%s: %d passed, %d failed, %d inconclusive, %d errors, %d skipped in %.1fs (implementation %s, environment %s)\n",
		result, s.Totals[verdict.Pass], s.Totals[verdict.Fail], s.Totals[verdict.Inconclusive], s.Totals[verdict.Error], s.Totals[verdict.Skip],
		s.Seconds, s.Implementation, s.Environment)
	if len(s.Scenarios) == 0 {
		fmt.Fprintln(w, "no scenario ran (check --feature and --labels)")
	}
	for _, p := range s.Reports {
		fmt.Fprintln(w, "wrote", p)
	}
	if s.HTML != "" {
		_, err := fmt.Fprintln(w, "open", s.HTML)
		return err
	}
	return nil
}

// reason is the first line of why a scenario did not pass: its error, else
// the first check that did not pass.
func reason(s report.Scenario) string {
	if s.Error != "" {
		return firstLine(s.Error)
	}
	for _, c := range s.Checks {
		if c.Verdict != verdict.Pass {
			return firstLine(c.Name + ": " + c.Error)
		}
	}
	return ""
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
