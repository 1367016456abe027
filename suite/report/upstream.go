package report

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/suite/upstream"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// UpstreamVerdict is upstream's own verdict on the upstream test a scenario
// maps to, from upstream's conformance suite run against the same cluster
// and implementation as part of the same run.
type UpstreamVerdict struct {
	// Test is upstream's short name, the scenario's upstreamTest.
	Test string `json:"test"`
	// Verdict is upstream's: PASS, FAIL or SKIP.
	Verdict verdict.Verdict `json:"verdict"`
	// Deviation explains, when set, why upstream's verdict is expected to
	// differ from ours under this run's grant policy.
	Deviation string `json:"deviation,omitempty"`
}

// ReadUpstreamVerdicts reads the verdicts JSON that upstream's conformance
// run writes (suite/upstream/runner's --upstream-verdicts: short name →
// PASS, FAIL or SKIP, every test upstream registers) and returns those of
// upstream's mesh tests.
func ReadUpstreamVerdicts(path string) (map[string]verdict.Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read upstream verdicts: %w", err)
	}
	var out map[string]verdict.Verdict
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("parse upstream verdicts %s: %w", path, err)
	}
	mesh := map[string]verdict.Verdict{}
	for name, v := range out {
		if v != verdict.Pass && v != verdict.Fail && v != verdict.Skip {
			return nil, fmt.Errorf("parse upstream verdicts %s: %s is %q, want PASS, FAIL or SKIP", path, name, v)
		}
		if _, ok := upstream.MeshTest(name); ok {
			mesh[name] = v
			continue
		}
		// Upstream's suite skips its Gateway tests when there is no
		// GatewayClass; one that ran is not a mesh run's.
		if v != verdict.Skip {
			return nil, fmt.Errorf("parse upstream verdicts %s: %s is %s, but it is not one of upstream's mesh tests", path, name, v)
		}
	}
	return mesh, nil
}

// AttachUpstream records upstream's verdict beside ours on every scenario
// whose upstream test the verdicts name, with the deviation the run's grant
// policy explains, if any.
func AttachUpstream(r *Results, verdicts map[string]verdict.Verdict) {
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		v, ok := verdicts[s.UpstreamTest]
		if s.UpstreamTest == "" || !ok {
			continue
		}
		s.Upstream = &UpstreamVerdict{Test: s.UpstreamTest, Verdict: v, Deviation: deviation(s.UpstreamTest, r.Run.GrantPolicy)}
	}
}

// deviation is why upstream's test is expected to fail where our scenario
// passes: under the strict grant policy a consumer route needs a
// ReferenceGrant, which upstream's MeshConsumerRoute manifests do not have
// (GEP-1294 needs none) and our mesh-consumer-route's do.
func deviation(test, policy string) string {
	if test == "MeshConsumerRoute" && policy == string(grantpolicy.Strict) {
		return "grant policy strict: upstream's manifests have no ReferenceGrant for the consumer route, so it is not applied; our scenario's manifests carry one"
	}
	return ""
}

// Disagreements lists every scenario whose verdict and upstream's, both
// decided (PASS or FAIL), differ without a deviation that explains it (a
// deviation explains our PASS beside upstream's FAIL only). SKIP,
// INCONCLUSIVE and ERROR on either side are not compared.
func Disagreements(r *Results) []string {
	var out []string
	decided := func(v verdict.Verdict) bool { return v == verdict.Pass || v == verdict.Fail }
	for _, s := range r.Scenarios {
		u := s.Upstream
		if u == nil || !decided(s.Verdict) || !decided(u.Verdict) || s.Verdict == u.Verdict {
			continue
		}
		if u.Deviation != "" && s.Verdict == verdict.Pass && u.Verdict == verdict.Fail {
			continue
		}
		out = append(out, fmt.Sprintf("%s: ours %s, upstream's %s %s", s.Name, s.Verdict, u.Test, u.Verdict))
	}
	slices.Sort(out)
	return out
}
