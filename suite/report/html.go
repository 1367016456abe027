package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": func(v verdict.Verdict) string { return strings.ToLower(string(v)) },
	"f2":    func(v float64) string { return fmt.Sprintf("%.2f", v) },
}).Parse(htmlTemplate))

// HTML renders the report as one self-contained page: inline CSS and SVG,
// no script and no external reference.
func HTML(r *Results) ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, newView(r)); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return b.Bytes(), nil
}

type view struct {
	Title, Impl, Version, URL, Org   string
	Environment, Cluster, Kubernetes string
	GatewayAPI, GrantPolicy, Mode    string
	Alpha, Beta, Delta, Budget       string
	Start, Duration                  string
	Verdict                          verdict.Verdict
	Headline                         string
	Totals                           []total
	Profiles                         []profileView
	Scenarios                        []scenarioView
	Features                         string
	// ErrorRates explains α per check against α per run.
	ErrorRates string
	// OC are the operating-characteristic charts (inline SVG) and OCNote
	// says what they show, or why they are missing.
	OC          []template.HTML
	OCNote      string
	OwnSentence string
}

type total struct {
	Verdict verdict.Verdict
	Count   int
}

type profileView struct {
	Name, Summary       string
	Core, Extended      string
	CoreClass, ExtClass string
	Failed, Skipped     []string
}

type scenarioView struct {
	ID, Name, Description, Upstream, Profile, Level string
	// Counted: the scenario counts toward Profile's totals, so it carries
	// the profile tag; otherwise it is labelled gammaproof's own.
	Counted                   bool
	Features                  []featureView
	Verdict                   verdict.Verdict
	Duration, Requests, Error string
	Walkthrough               bool
	Steps                     []stepView
	RouteSteps                []routeStep
	// Upstream is upstream's own verdict on the same behaviour from the
	// same run, if it ran; UpstreamNote explains an expected deviation.
	UpstreamVerdict verdict.Verdict
	UpstreamNote    string
}

type featureView struct {
	Name string
	// Own: a feature name of gammaproof's own (Gammaproof…), not upstream's.
	Own bool
}

type stepView struct {
	Index  int
	Name   string
	Checks []checkView
}

// routeStep is the route status read after one step's waits.
type routeStep struct {
	// Index is the step's number among the steps shown, 0 if it has no
	// checks (then only its name is shown).
	Index  int
	Name   string
	Routes []routeView
}

type routeView struct {
	Kind, Namespace, Name, Parent string
	Conditions                    []condView
}

type condView struct {
	Type, Status, Reason, Message string
	// Class colours the condition: cond-True, cond-False, cond-Unknown,
	// or cond-expected for a False the scenario waited for (neutral).
	Class    string
	Expected bool
}

type checkView struct {
	Name, Description, Client, URL, Kind string
	Verdict                              verdict.Verdict
	Rows                                 []barRow
	Expected, Observed, Summary          string
	// Output: Observed has several lines (an exec check's output) and is
	// shown as they are.
	Output                          bool
	Requests, Attempts, Convergence string
	Level, Alpha, AlphaTitle        string
	Budget, Tolerated, Bursts       string
	Evidence                        []evidenceView
	Error                           string
	Codes                           string
}

// barRow is one category's bar; coordinates are percent of the track.
type barRow struct {
	Name                    string
	Expected, Observed      float64
	BandLo, BandW           float64
	HasInterval             bool
	Lo, Hi                  float64
	ExpText, ObsText, Count string
	IntervalText            string
	Outside                 bool
	Label                   string
}

type evidenceView struct {
	Category, Side, LogLR, EValue, FailAt, PassAt string
	Decision                                      stats.Decision
}

var idUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

func newView(r *Results) view {
	run := r.Run
	v := view{
		Impl:        implName(r),
		Version:     run.Implementation.Version,
		URL:         run.Implementation.URL,
		Org:         run.Implementation.Organization,
		Environment: run.Environment,
		Cluster:     orDefault(run.Cluster.Name, "-"),
		Kubernetes:  orDefault(run.Cluster.KubernetesVersion, "unknown"),
		GatewayAPI:  strings.TrimSpace(run.GatewayAPI.Version + " " + run.GatewayAPI.Channel),
		GrantPolicy: orDefault(run.GrantPolicy, "n/a"),
		Mode:        run.ModeName(),
		Alpha:       fmt.Sprintf("%g", run.Statistics.Alpha),
		Beta:        fmt.Sprintf("%g", run.Statistics.Beta),
		Delta:       fmt.Sprintf("±%g points", 100*run.Statistics.Delta),
		Start:       run.Start.UTC().Format("2006-01-02 15:04 UTC"),
		Duration:    duration(run.End.Sub(run.Start).Seconds()),
		Features:    strings.Join(run.SupportedFeatures, ", "),
		OwnSentence: OwnSentence,
	}
	if run.Statistics.Budget > 0 {
		v.Budget = fmt.Sprintf("%d requests", run.Statistics.Budget)
	}
	v.ErrorRates = errorRates(r)
	v.OC, v.OCNote = ocCharts(run.Statistics)
	v.Title = fmt.Sprintf("%s %s — GAMMA conformance", v.Impl, v.Version)
	t := r.Totals()
	for _, w := range verdict.All {
		v.Totals = append(v.Totals, total{w, t[w]})
	}
	bad := len(r.Scenarios) - t[verdict.Pass] - t[verdict.Skip]
	switch {
	case bad == 0:
		v.Verdict = verdict.Pass
		v.Headline = fmt.Sprintf("All %d scenarios passed", t[verdict.Pass])
		if t[verdict.Skip] > 0 {
			v.Headline = fmt.Sprintf("%d passed, %d skipped", t[verdict.Pass], t[verdict.Skip])
		}
	default:
		v.Verdict = verdict.Fail
		v.Headline = fmt.Sprintf("%d of %d scenarios did not pass", bad, len(r.Scenarios))
	}
	rep := Conformance(r)
	for _, p := range rep.ProfileReports {
		pv := profileView{Name: p.Name, Summary: p.Summary,
			Core:      fmt.Sprintf("%s · %d passed, %d failed, %d skipped", p.Core.Result, p.Core.Passed, p.Core.Failed, p.Core.Skipped),
			CoreClass: string(p.Core.Result)}
		pv.Failed = append(pv.Failed, p.Core.FailedTests...)
		pv.Skipped = append(pv.Skipped, p.Core.SkippedTests...)
		if e := p.Extended; e != nil {
			pv.Extended = fmt.Sprintf("%s · %d passed, %d failed, %d skipped", e.Result, e.Passed, e.Failed, e.Skipped)
			pv.ExtClass = string(e.Result)
			pv.Failed = append(pv.Failed, e.FailedTests...)
			pv.Skipped = append(pv.Skipped, e.SkippedTests...)
		}
		v.Profiles = append(v.Profiles, pv)
	}
	for _, s := range r.Scenarios {
		v.Scenarios = append(v.Scenarios, newScenarioView(s, run.Statistics))
	}
	return v
}

// statistical reports whether c is decided by a sequential test (it
// spends α).
func statistical(c Check) bool { return c.Kind == CheckSplit || c.Kind == CheckStatusShare }

// errorRates explains the run's α and β, which hold per check, against the
// run as a whole.
func errorRates(r *Results) string {
	st := r.Run.Statistics
	n := 0
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			if statistical(c) {
				n++
			}
		}
	}
	text := fmt.Sprintf("α and β hold per check: a statistical check FAILs a correct split with probability at most α = %g "+
		"and PASSes a split δ or more off with probability at most β = %g, spent over its attempts "+
		"(α/2 on the first, α/4 on a retry, …); each check shows the α it spent.", st.Alpha, st.Beta)
	if n > 0 {
		text += fmt.Sprintf(" Per run: over this run's %d statistical checks, the probability that any of them FAILs "+
			"a correct implementation is at most %d × α = %.2g.", n, n, float64(n)*st.Alpha)
	}
	return text
}

func newScenarioView(s Scenario, st Statistics) scenarioView {
	sv := scenarioView{
		ID:          "s-" + idUnsafe.ReplaceAllString(strings.ToLower(s.Name), "-"),
		Name:        s.Name,
		Description: s.Description,
		Upstream:    s.UpstreamTest,
		Profile:     s.Profile,
		Counted:     s.Counted(),
		Verdict:     s.Verdict,
		Duration:    duration(s.DurationSeconds),
		Error:       s.Error,
		RouteSteps:  routeSteps(s.RouteStatus),
		Walkthrough: s.Name == "seed-bookstore",
	}
	for _, f := range s.Features {
		sv.Features = append(sv.Features, featureView{Name: f, Own: strings.HasPrefix(f, scenario.OwnFeaturePrefix)})
	}
	if u := s.Upstream; u != nil {
		sv.UpstreamVerdict = u.Verdict
		sv.UpstreamNote = "upstream's " + u.Test + " in the same run"
		if u.Deviation != "" {
			sv.UpstreamNote += "; expected to differ: " + u.Deviation
		}
	}
	if sv.Counted && s.Profile != profile.Gammaproof {
		sv.Level = "extended"
		if s.Core {
			sv.Level = "core"
		}
	}
	requests := 0
	for _, c := range s.Checks {
		requests += c.Requests
		cv := newCheckView(c, st)
		i := slices.IndexFunc(sv.Steps, func(st stepView) bool { return st.Name == c.Step })
		if i < 0 {
			sv.Steps = append(sv.Steps, stepView{Index: len(sv.Steps) + 1, Name: c.Step})
			i = len(sv.Steps) - 1
		}
		sv.Steps[i].Checks = append(sv.Steps[i].Checks, cv)
	}
	sv.Requests = fmt.Sprint(requests)
	for i := range sv.RouteSteps {
		rs := &sv.RouteSteps[i]
		rs.Index = 0
		if j := slices.IndexFunc(sv.Steps, func(st stepView) bool { return st.Name == rs.Name }); j >= 0 {
			rs.Index = sv.Steps[j].Index
		}
	}
	if len(sv.Steps) < 2 {
		sv.Walkthrough = false
	}
	return sv
}

// routeSteps groups route statuses by the step after which they were read,
// in order.
func routeSteps(statuses []RouteStatus) []routeStep {
	var out []routeStep
	for _, rs := range statuses {
		if len(out) == 0 || out[len(out)-1].Name != rs.Step {
			out = append(out, routeStep{Name: rs.Step})
		}
		rv := routeView{Kind: rs.Kind, Namespace: rs.Namespace, Name: rs.Name, Parent: rs.Parent}
		for _, c := range rs.Conditions {
			cv := condView{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
				Class: "cond-" + c.Status, Expected: c.Expected}
			if c.Expected && c.Status != "True" {
				cv.Class = "cond-expected"
			}
			rv.Conditions = append(rv.Conditions, cv)
		}
		out[len(out)-1].Routes = append(out[len(out)-1].Routes, rv)
	}
	return out
}

func newCheckView(c Check, st Statistics) checkView {
	cv := checkView{
		Name:        c.Name,
		Description: c.Description,
		Client:      c.Client,
		URL:         c.URL,
		Kind:        c.Kind,
		Verdict:     c.Verdict,
		Expected:    c.Expected,
		Observed:    observedText(c),
		Tolerated:   ToleratedText(c),
		Requests:    fmt.Sprint(c.Requests),
		Attempts:    fmt.Sprint(c.Attempts),
		Convergence: duration(c.ConvergenceSeconds),
		Error:       c.Error,
		Summary:     CheckSummary(c),
	}
	if c.IntervalLevel > 0 {
		cv.Level = levelText(c.IntervalLevel)
	}
	cv.Output = strings.Contains(cv.Observed, "\n")
	if c.Alpha > 0 {
		cv.Alpha = fmt.Sprintf("α spent %.2g · β spent %.2g", c.Alpha, c.Beta)
		cv.AlphaTitle = fmt.Sprintf("of this check's α = %g and β = %g (the run's per-check rates), over %d attempt(s)", st.Alpha, st.Beta, c.Attempts)
	}
	if c.BudgetRequests > 0 {
		cv.Budget = fmt.Sprintf("budget %d requests", c.BudgetRequests)
	}
	if b := c.Bursts; b != nil {
		cv.Bursts = burstsText(*b)
	}
	cv.Codes = codesText(c)
	n := totalCount(c)
	for _, cat := range c.Categories {
		cv.Rows = append(cv.Rows, newBarRow(cat, n, st.Delta))
	}
	for _, e := range c.Evidence {
		cv.Evidence = append(cv.Evidence, newEvidenceView(c, e))
	}
	return cv
}

// burstsText says what the test for bursts found.
func burstsText(b stats.Bursts) string {
	if b.Bursty {
		return "independence: responses come in bursts (" + b.String() + ")"
	}
	return "independence: no bursts found (" + b.String() + ")"
}

// codesText lists the check's status codes and errors with their counts,
// sorted, e.g. "200×18 503×2".
func codesText(c Check) string {
	var codes []string
	for code, n := range c.StatusCodes {
		codes = append(codes, fmt.Sprintf("%s×%d", code, n))
	}
	for kind, n := range c.Errors {
		codes = append(codes, fmt.Sprintf("%s×%d", kind, n))
	}
	slices.Sort(codes)
	return strings.Join(codes, " ")
}

// newBarRow is the bar of one category of n answers: its expected share
// with the band ±delta, its observed share and interval, and a label.
func newBarRow(cat Category, n int, delta float64) barRow {
	obs := share(cat.Count, n)
	row := barRow{
		Name:     cat.Name,
		Expected: clamp(100 * cat.Expected),
		Observed: clamp(100 * obs),
		BandLo:   clamp(100 * (cat.Expected - delta)),
		ExpText:  pct(cat.Expected),
		ObsText:  pct(obs),
		Count:    fmt.Sprint(cat.Count),
	}
	row.BandW = clamp(100*(cat.Expected+delta)) - row.BandLo
	if iv := cat.Interval; iv != nil {
		row.HasInterval = true
		row.Lo, row.Hi = clamp(100*iv.Lo), clamp(100*iv.Hi)
		row.IntervalText = fmt.Sprintf("%.1f–%.1f%%", 100*iv.Lo, 100*iv.Hi)
		row.Outside = iv.Hi < cat.Expected-delta || iv.Lo > cat.Expected+delta
	}
	row.Label = fmt.Sprintf("%s: expected %s, observed %s (%d of %d)", cat.Name, row.ExpText, row.ObsText, cat.Count, n)
	if row.IntervalText != "" {
		row.Label += ", interval " + row.IntervalText
	}
	return row
}

// newEvidenceView is one side of the check's sequential test: its
// alternative, evidence and thresholds.
func newEvidenceView(c Check, e Evidence) evidenceView {
	side := "+"
	if e.Alternative < expectedOf(c, e.Category) {
		side = "−"
	}
	logLR, evalue := evidenceText(e.LogLR)
	return evidenceView{
		Category: e.Category,
		Side:     fmt.Sprintf("%s → %s", side, pct(e.Alternative)),
		LogLR:    logLR,
		EValue:   evalue,
		FailAt:   fmt.Sprintf("%.1f", e.FailAt),
		PassAt:   fmt.Sprintf("%.1f", e.PassAt),
		Decision: e.Decision,
	}
}

func expectedOf(c Check, name string) float64 {
	for _, cat := range c.Categories {
		if cat.Name == name {
			return cat.Expected
		}
	}
	return 0
}

// evidenceText shows a log likelihood ratio and its e-value; at ±[Infinity]
// they read +∞ and ∞, or −∞ and 0.
func evidenceText(logLR float64) (logText, evalue string) {
	switch {
	case logLR >= Infinity:
		return "+∞", "∞"
	case logLR <= -Infinity:
		return "−∞", "0"
	}
	return fmt.Sprintf("%.2f", logLR), fmt.Sprintf("%.3g", math.Exp(logLR))
}

func clamp(v float64) float64 { return math.Max(0, math.Min(100, v)) }

func duration(s float64) string {
	switch {
	case s <= 0:
		return "0 s"
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.0f min %02.0f s", math.Floor(s/60), math.Mod(s, 60))
}
