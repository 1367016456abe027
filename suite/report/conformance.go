package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/suite/profile"
	"github.com/gammaproof/gammaproof/suite/upstream"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// extendedFeatures returns what upstream's report lists for a profile's
// extended level: the profile's extended features the run supports, and
// the rest, each sorted, as upstream's suite computes them (the profile's
// ExtendedFeatures intersected with, and minus, the supported features).
// A run told no supported features (the suite's default: all) supports
// every feature except its unsupported (exempt) ones.
func extendedFeatures(run Run, profileName string) (supported, unsupported []string) {
	ext := upstream.FeatureNames().Extended[profileName]
	for _, f := range slices.Sorted(maps.Keys(ext)) {
		yes := !slices.Contains(run.UnsupportedFeatures, f)
		if len(run.SupportedFeatures) > 0 {
			yes = yes && slices.Contains(run.SupportedFeatures, f)
		}
		if yes {
			supported = append(supported, f)
		} else {
			unsupported = append(unsupported, f)
		}
	}
	return supported, unsupported
}

// ConformanceFileName is upstream's report file name:
// <channel>-<version>-<mode>-report.yaml.
func ConformanceFileName(r *Results) string {
	ch := r.Run.GatewayAPI.Channel
	if ch == "" {
		ch = "standard"
	}
	v := r.Run.Implementation.Version
	if v == "" {
		v = "unknown"
	}
	return fmt.Sprintf("%s-%s-%s-report.yaml", ch, v, r.Run.ModeName())
}

// Conformance builds the upstream ConformanceReport. Only scenarios with an
// upstream test short name and profile MESH-HTTP or MESH-GRPC count, under
// that short name, core or extended as the scenario says; several scenarios
// with one short name count once, failing if any fails. PASS counts as
// passed, SKIP as skipped, and FAIL, INCONCLUSIVE and ERROR as failed: an
// inconclusive test is not a pass. Our own behaviours (profile gammaproof)
// stay in results.json.
func Conformance(r *Results) *confv1.ConformanceReport {
	impl := r.Run.Implementation
	project := impl.Project
	if project == "" {
		project = impl.Name
	}
	rep := &confv1.ConformanceReport{
		TypeMeta: metav1.TypeMeta{APIVersion: confv1.GroupVersion.String(), Kind: "ConformanceReport"},
		Implementation: confv1.Implementation{
			Organization: impl.Organization,
			Project:      project,
			URL:          impl.URL,
			Version:      impl.Version,
			Contact:      impl.Contact,
		},
		Date:              r.Run.Start.UTC().Format("2006-01-02T15:04:05Z"),
		GatewayAPIVersion: r.Run.GatewayAPI.Version,
		GatewayAPIChannel: r.Run.GatewayAPI.Channel,
		Mode:              r.Run.ModeName(),
	}
	if rep.Implementation.Contact == nil {
		rep.Implementation.Contact = []string{}
	}
	for _, name := range profile.Upstream {
		if pr, ok := profileReport(r, name); ok {
			rep.ProfileReports = append(rep.ProfileReports, pr)
		}
	}
	return rep
}

// upstreamOutcome is one upstream test's outcome in a profile.
type upstreamOutcome struct {
	core    bool
	verdict verdict.Verdict
}

func profileReport(r *Results, name string) (confv1.ProfileReport, bool) {
	tests := map[string]upstreamOutcome{}
	for _, s := range r.Scenarios {
		if s.Profile != name || !s.Counted() {
			continue
		}
		o, seen := tests[s.UpstreamTest]
		if !seen || s.Verdict.Worse(o.verdict) {
			o.verdict = s.Verdict
		}
		o.core = o.core || s.Core
		tests[s.UpstreamTest] = o
	}
	if len(tests) == 0 {
		return confv1.ProfileReport{}, false
	}
	pr := confv1.ProfileReport{Name: name}
	var ext *confv1.ExtendedStatus
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		o := tests[n]
		st := &pr.Core
		if !o.core {
			if ext == nil {
				ext = &confv1.ExtendedStatus{}
			}
			st = &ext.Status
		}
		switch o.verdict {
		case verdict.Pass:
			st.Passed++
		case verdict.Skip:
			st.Skipped++
			st.SkippedTests = append(st.SkippedTests, n)
		default:
			st.Failed++
			st.FailedTests = append(st.FailedTests, n)
		}
	}
	pr.Core.Result = result(pr.Core)
	summary := "Core tests " + summaryOf(pr.Core)
	if ext != nil {
		ext.Result = result(ext.Status)
		summary += ". Extended tests " + summaryOf(ext.Status)
		ext.SupportedFeatures, ext.UnsupportedFeatures = extendedFeatures(r.Run, name)
		pr.Extended = ext
	}
	pr.Summary = summary + "."
	return pr, true
}

// result is upstream's rule: any failure fails, any skip is partial.
func result(s confv1.Status) confv1.Result {
	switch {
	case s.Failed > 0:
		return confv1.Failure
	case s.Skipped > 0:
		return confv1.Partial
	}
	return confv1.Success
}

func summaryOf(s confv1.Status) string {
	switch s.Result {
	case confv1.Failure:
		return fmt.Sprintf("failed with %d test failures", s.Failed)
	case confv1.Partial:
		return fmt.Sprintf("partially succeeded with %d test skips", s.Skipped)
	}
	return "succeeded"
}

// ConformanceYAML renders [Conformance] as YAML.
func ConformanceYAML(r *Results) ([]byte, error) {
	out, err := yaml.Marshal(Conformance(r))
	if err != nil {
		return nil, fmt.Errorf("encode conformance report: %w", err)
	}
	return out, nil
}

// DecodeConformance parses a ConformanceReport strictly into the upstream
// type: an unknown field is an error.
func DecodeConformance(data []byte) (*confv1.ConformanceReport, error) {
	var rep confv1.ConformanceReport
	if err := yaml.UnmarshalStrict(data, &rep); err != nil {
		return nil, fmt.Errorf("decode conformance report: %w", err)
	}
	if rep.Kind != "ConformanceReport" || !strings.HasPrefix(rep.APIVersion, confv1.Group+"/") {
		return nil, fmt.Errorf("decode conformance report: kind %q apiVersion %q, want ConformanceReport %s", rep.Kind, rep.APIVersion, confv1.GroupVersion)
	}
	return &rep, nil
}
