package xds

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
)

// TestTranslateModelInputs runs the model's own test inputs
// (impl/model/testdata/*.yaml) through model.Build and Translate: the
// contract between the two packages. It checks invariants, not golden
// output, so model changes do not break it unless they break the contract.
func TestTranslateModelInputs(t *testing.T) {
	for _, f := range modeltest.TestdataFiles(t) {
		t.Run(f.Name, func(t *testing.T) {
			m := model.Build(decodeInput(t, f.YAML))
			s, err := Translate(m)
			if err != nil {
				t.Fatalf("Translate(model.Build(%s)): %v", f.Name, err)
			}
			for _, r := range allResources(s) {
				if err := Validate(r); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
			if got, want := len(s.Resources.Resources[types.Listener].Items), len(m.Listeners); got != want {
				t.Errorf("%d listeners, model has %d", got, want)
			}
			clusters := s.Resources.Resources[types.Cluster].Items
			for name, rc := range s.Resources.Resources[types.Route].Items {
				for _, r := range rc.Resource.(*route.RouteConfiguration).GetVirtualHosts()[0].GetRoutes() {
					for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
						_, ok := clusters[wc.GetName()]
						if invalid := bytes.HasPrefix([]byte(wc.GetName()), []byte(InvalidClusterPrefix)); ok == invalid {
							t.Errorf("%s: route %s: cluster %q in snapshot = %v", name, r.GetName(), wc.GetName(), ok)
						}
					}
					for _, mp := range r.GetRoute().GetRequestMirrorPolicies() {
						if _, ok := clusters[mp.GetCluster()]; !ok {
							t.Errorf("%s: route %s mirrors to %q, not in the snapshot", name, r.GetName(), mp.GetCluster())
						}
					}
				}
			}
			if len(s.Warnings) != 0 {
				t.Errorf("warnings: %q", s.Warnings)
			}
		})
	}
}

// decodeInput decodes multi-document YAML into a model input.
func decodeInput(t *testing.T, b []byte) model.Input {
	t.Helper()
	in, err := modeltest.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// readInput returns testdata/inputs/<name>, a model input in YAML.
func readInput(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "inputs", name))
	if err != nil {
		t.Fatalf("read test input: %v", err)
	}
	return b
}
