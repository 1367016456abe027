//go:build conformance

package runner

import (
	"encoding/json"
	"flag"
	"os"
	"testing"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"

	"github.com/gammaproof/gammaproof/suite/upstream"
)

// Our own flags; the others are upstream's. verdictsPath is where
// TestConformance writes the per-test verdicts (JSON, short name →
// PASS/FAIL/SKIP); gammaproofFeatures claims upstream.GammaproofFeatures
// instead of --supported-features.
var (
	verdictsPath       = flag.String("upstream-verdicts", "", "where to write upstream's per-test verdicts as JSON")
	gammaproofFeatures = flag.Bool("gammaproof-features", false, "claim gammaproof's supported features (suite/upstream.GammaproofFeatures) instead of --supported-features")
)

// TestConformance runs upstream's mesh conformance suite against the cluster
// with upstream's own flags:
//
//	go test -tags conformance -count=1 -timeout 30m ./suite/upstream/runner -run TestConformance -args \
//	  --kubeconfig=$KUBECONFIG --supported-features=MeshConsumerRoute,... (or --gammaproof-features) \
//	  --organization=gammaproof --project=gammaproof --url=... --version=... --contact=... \
//	  --report-output=reports/latest/upstream-report.yaml --upstream-verdicts=reports/latest/upstream-verdicts.json
//
// It fails when any upstream test fails.
func TestConformance(t *testing.T) {
	o := Options{
		Kubeconfig:        lookup("kubeconfig"),
		SupportedFeatures: upstream.SplitList(lookup("supported-features")),
		ExemptFeatures:    upstream.SplitList(lookup("exempt-features")),
		Profiles:          upstream.SplitList(lookup("conformance-profiles")),
		Implementation: confv1.Implementation{
			Organization: lookup("organization"),
			Project:      lookup("project"),
			URL:          lookup("url"),
			Version:      lookup("version"),
			Contact:      upstream.SplitList(lookup("contact")),
		},
		Mode:              lookup("mode"),
		ReportPath:        lookup("report-output"),
		SkipTests:         upstream.SplitList(lookup("skip-tests")),
		RunTest:           lookup("run-test"),
		AllowCRDsMismatch: lookup("allow-crds-mismatch") == "true",
		KeepResources:     lookup("cleanup-base-resources") == "false",
		Debug:             lookup("debug") == "true",
	}
	if *gammaproofFeatures {
		if len(o.SupportedFeatures) > 0 {
			t.Fatal("set --supported-features or --gammaproof-features, not both")
		}
		o.SupportedFeatures = upstream.GammaproofFeatures()
	}
	res, err := Run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if *verdictsPath != "" {
		data, err := json.MarshalIndent(res.Tests, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*verdictsPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, v := range res.Tests {
		if v != "SKIP" {
			t.Logf("upstream %s: %s", name, v)
		}
	}
}

// lookup returns a flag's value, "" if no package defines it.
func lookup(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
