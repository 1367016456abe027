package upstream_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/upstream"
)

// TestGammaproofFeaturesProven holds GammaproofFeatures and the scenarios
// to each other: gammaproof claims an upstream feature exactly when a
// scenario checks it, and every mesh test upstream runs needs only claimed
// features (so upstream's suite skips none of them for gammaproof).
func TestGammaproofFeaturesProven(t *testing.T) {
	all, err := scenario.LoadAll(filepath.Join(repo.Root(), "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	claimed := upstream.GammaproofFeatures()
	known := upstream.FeatureNames()
	named := map[string][]string{}
	for _, s := range all {
		for _, f := range s.Features {
			if known.Known(f) {
				named[f] = append(named[f], s.Name)
			}
		}
	}
	for _, f := range claimed {
		if !known.Known(f) {
			t.Errorf("GammaproofFeatures: upstream defines no %s", f)
		}
		if len(named[f]) == 0 {
			t.Errorf("GammaproofFeatures claims %s, but no scenario checks it", f)
		}
	}
	for f, by := range named {
		if !slices.Contains(claimed, f) {
			t.Errorf("scenarios %v check %s, but GammaproofFeatures does not claim it", by, f)
		}
	}
	for _, mt := range upstream.MeshTests() {
		for _, f := range mt.Features {
			if !slices.Contains(claimed, f) {
				t.Errorf("upstream's %s needs %s, which gammaproof does not claim", mt.ShortName, f)
			}
		}
	}
}
