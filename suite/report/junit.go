package report

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/gammaproof/gammaproof/suite/verdict"
)

// junitCounts are the attributes a suite and the document both carry: the
// document's are its one suite's.
type junitCounts struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name string `xml:"name,attr"`
	junitCounts
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnit renders one testcase per scenario. A FAIL or INCONCLUSIVE scenario
// is a failure whose message carries the evidence of its first failing
// check (expected vs observed shares, interval, requests); the body has
// every failing check. ERROR is an error, SKIP skipped.
func JUnit(r *Results) ([]byte, error) {
	s := junitSuite{
		Name:      "gammaproof/" + implName(r),
		Timestamp: r.Run.Start.UTC().Format("2006-01-02T15:04:05"),
	}
	s.Time = seconds(r.Run.End.Sub(r.Run.Start).Seconds())
	s.Properties = []junitProperty{
		{"implementation", implName(r) + " " + r.Run.Implementation.Version},
		{"environment", r.Run.Environment},
		{"kubernetesVersion", r.Run.Cluster.KubernetesVersion},
		{"gatewayAPI", r.Run.GatewayAPI.Version + " " + r.Run.GatewayAPI.Channel},
		{"grantPolicy", r.Run.GrantPolicy},
		{"alpha", fmt.Sprint(r.Run.Statistics.Alpha)},
		{"beta", fmt.Sprint(r.Run.Statistics.Beta)},
		{"delta", fmt.Sprint(r.Run.Statistics.Delta)},
	}
	for _, sc := range r.Scenarios {
		c := junitCase{
			Name:      sc.Name,
			Classname: "gammaproof." + sc.Profile,
			Time:      seconds(sc.DurationSeconds),
			SystemOut: scenarioSummary(sc),
		}
		s.Tests++
		switch sc.Verdict {
		case verdict.Fail, verdict.Inconclusive:
			s.Failures++
			msg, body := failureText(sc)
			c.Failure = &junitMessage{Message: msg, Type: string(sc.Verdict), Body: body}
		case verdict.Error:
			s.Errors++
			msg, body := failureText(sc)
			c.Error = &junitMessage{Message: msg, Type: string(sc.Verdict), Body: body}
		case verdict.Skip:
			s.Skipped++
			c.Skipped = &junitMessage{Message: orDefault(sc.Error, "skipped")}
		}
		s.Cases = append(s.Cases, c)
	}
	doc := junitSuites{Name: "gammaproof", junitCounts: s.junitCounts, Suites: []junitSuite{s}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func failureText(sc Scenario) (msg, body string) {
	var lines []string
	if sc.Error != "" {
		lines = append(lines, sc.Error)
	}
	for _, c := range sc.Checks {
		if c.Verdict == verdict.Pass || c.Verdict == verdict.Skip {
			continue
		}
		lines = append(lines, CheckSummary(c))
	}
	if len(lines) == 0 {
		lines = []string{fmt.Sprintf("scenario %s: %s", sc.Name, sc.Verdict)}
	}
	return lines[0], strings.Join(lines, "\n")
}

func scenarioSummary(sc Scenario) string {
	var lines []string
	for _, c := range sc.Checks {
		lines = append(lines, CheckSummary(c))
	}
	return strings.Join(lines, "\n")
}

// CheckSummary is a one-line account of a check and its evidence, e.g.
// "weight-70-30 FAIL: expected v1 70.0% v2 30.0%, observed v1 61.2% [57.9, 64.4] v2 38.8% [35.6, 42.1] (99.9% anytime-valid), 1380 requests, 1 attempt".
func CheckSummary(c Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", c.Name, c.Verdict)
	if len(c.Categories) > 0 {
		b.WriteString(" expected")
		for _, cat := range c.Categories {
			fmt.Fprintf(&b, " %s %s", cat.Name, pct(cat.Expected))
		}
		b.WriteString(", observed")
		total := totalCount(c)
		for _, cat := range c.Categories {
			fmt.Fprintf(&b, " %s %s", cat.Name, pct(share(cat.Count, total)))
			if cat.Interval != nil {
				fmt.Fprintf(&b, " [%.1f, %.1f]", 100*cat.Interval.Lo, 100*cat.Interval.Hi)
			}
		}
		if c.IntervalLevel > 0 {
			fmt.Fprintf(&b, " (%s anytime-valid)", levelText(c.IntervalLevel))
		}
		b.WriteString(",")
	}
	if c.Expected != "" || c.Observed != "" {
		fmt.Fprintf(&b, " expected %s, observed %s,", orDefault(c.Expected, "-"), orDefault(observedText(c), "-"))
	}
	fmt.Fprintf(&b, " %d requests", c.Requests)
	if c.Attempts > 0 {
		fmt.Fprintf(&b, ", %d attempt%s", c.Attempts, plural(c.Attempts))
	}
	if c.BudgetRequests > 0 {
		fmt.Fprintf(&b, ", budget %d requests", c.BudgetRequests)
	}
	if t := ToleratedText(c); t != "" {
		fmt.Fprintf(&b, ", %s: counted, not judged", t)
	}
	if c.Error != "" {
		fmt.Fprintf(&b, ", error: %s", c.Error)
	}
	return b.String()
}

func totalCount(c Check) int {
	n := 0
	for _, cat := range c.Categories {
		n += cat.Count
	}
	return n
}

func share(count, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(count) / float64(total)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func levelText(l float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", 100*l), "0"), ".") + "%"
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func implName(r *Results) string {
	return orDefault(r.Run.Implementation.Name, r.Run.Implementation.Project)
}
