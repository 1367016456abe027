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
	Features                                        []string
	Verdict                                         verdict.Verdict
	Duration, Requests, Error                       string
	Walkthrough                                     bool
	Steps                                           []stepView
	Routes                                          []RouteStatus
	// Upstream is upstream's own verdict on the same behaviour from the
	// same run, if it ran; UpstreamNote explains an expected deviation.
	UpstreamVerdict verdict.Verdict
	UpstreamNote    string
}

type stepView struct {
	Index  int
	Name   string
	Checks []checkView
}

type checkView struct {
	Name, Description, Client, URL, Kind string
	Verdict                              verdict.Verdict
	Rows                                 []barRow
	Expected, Observed, Summary          string
	Requests, Attempts, Convergence      string
	Level, Alpha                         string
	Evidence                             []evidenceView
	Error                                string
	Codes                                string
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
	}
	if run.Statistics.Budget > 0 {
		v.Budget = fmt.Sprint(run.Statistics.Budget)
	}
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
		v.Scenarios = append(v.Scenarios, newScenarioView(s, run.Statistics.Delta))
	}
	return v
}

func newScenarioView(s Scenario, delta float64) scenarioView {
	sv := scenarioView{
		ID:          "s-" + idUnsafe.ReplaceAllString(strings.ToLower(s.Name), "-"),
		Name:        s.Name,
		Description: s.Description,
		Upstream:    s.UpstreamTest,
		Profile:     s.Profile,
		Features:    s.Features,
		Verdict:     s.Verdict,
		Duration:    duration(s.DurationSeconds),
		Error:       s.Error,
		Routes:      s.RouteStatus,
		Walkthrough: s.Name == "seed-bookstore",
	}
	if u := s.Upstream; u != nil {
		sv.UpstreamVerdict = u.Verdict
		sv.UpstreamNote = "upstream's " + u.Test + " in the same run"
		if u.Deviation != "" {
			sv.UpstreamNote += "; expected to differ: " + u.Deviation
		}
	}
	if s.Profile != profile.Gammaproof {
		sv.Level = "extended"
		if s.Core {
			sv.Level = "core"
		}
	}
	requests := 0
	for _, c := range s.Checks {
		requests += c.Requests
		cv := newCheckView(c, delta)
		i := slices.IndexFunc(sv.Steps, func(st stepView) bool { return st.Name == c.Step })
		if i < 0 {
			sv.Steps = append(sv.Steps, stepView{Index: len(sv.Steps) + 1, Name: c.Step})
			i = len(sv.Steps) - 1
		}
		sv.Steps[i].Checks = append(sv.Steps[i].Checks, cv)
	}
	sv.Requests = fmt.Sprint(requests)
	if len(sv.Steps) < 2 {
		sv.Walkthrough = false
	}
	return sv
}

func newCheckView(c Check, delta float64) checkView {
	cv := checkView{
		Name:        c.Name,
		Description: c.Description,
		Client:      c.Client,
		URL:         c.URL,
		Kind:        c.Kind,
		Verdict:     c.Verdict,
		Expected:    c.Expected,
		Observed:    c.Observed,
		Requests:    fmt.Sprint(c.Requests),
		Attempts:    fmt.Sprint(c.Attempts),
		Convergence: duration(c.ConvergenceSeconds),
		Error:       c.Error,
		Summary:     CheckSummary(c),
	}
	if c.IntervalLevel > 0 {
		cv.Level = levelText(c.IntervalLevel)
	}
	if c.Alpha > 0 {
		cv.Alpha = fmt.Sprintf("α=%g β=%g", c.Alpha, c.Beta)
	}
	var codes []string
	for code, n := range c.StatusCodes {
		codes = append(codes, fmt.Sprintf("%s×%d", code, n))
	}
	for kind, n := range c.Errors {
		codes = append(codes, fmt.Sprintf("%s×%d", kind, n))
	}
	slices.Sort(codes)
	cv.Codes = strings.Join(codes, " ")
	n := totalCount(c)
	for _, cat := range c.Categories {
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
		cv.Rows = append(cv.Rows, row)
	}
	for _, e := range c.Evidence {
		side := "+"
		if e.Alternative < expectedOf(c, e.Category) {
			side = "−"
		}
		cv.Evidence = append(cv.Evidence, evidenceView{
			Category: e.Category,
			Side:     fmt.Sprintf("%s → %s", side, pct(e.Alternative)),
			LogLR:    logText(e.LogLR),
			EValue:   evalueText(e.LogLR),
			FailAt:   fmt.Sprintf("%.1f", e.FailAt),
			PassAt:   fmt.Sprintf("%.1f", e.PassAt),
			Decision: e.Decision,
		})
	}
	return cv
}

func expectedOf(c Check, name string) float64 {
	for _, cat := range c.Categories {
		if cat.Name == name {
			return cat.Expected
		}
	}
	return 0
}

func logText(v float64) string {
	switch {
	case v >= Infinity:
		return "+∞"
	case v <= -Infinity:
		return "−∞"
	}
	return fmt.Sprintf("%.2f", v)
}

func evalueText(logv float64) string {
	switch {
	case logv >= Infinity:
		return "∞"
	case logv <= -Infinity:
		return "0"
	}
	return fmt.Sprintf("%.3g", math.Exp(logv))
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
