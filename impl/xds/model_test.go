package xds

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/impl/model"
)

// TestTranslateModelInputs runs the model's own test inputs
// (impl/model/testdata/*.yaml) through model.Build and Translate: the
// contract between the two packages. It checks invariants, not golden
// output, so model changes do not break it unless they break the contract.
func TestTranslateModelInputs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "model", "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no impl/model/testdata/*.yaml: the model's inputs moved; point this test at them")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m := model.Build(decodeInput(t, raw))
			s, err := Translate(m)
			if err != nil {
				t.Fatalf("Translate(model.Build(%s)): %v", f, err)
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
	var in model.Input
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("decode document %d: %v", i, err)
		}
		var err error
		switch tm.Kind {
		case "Service":
			var o corev1.Service
			err = yaml.Unmarshal(doc, &o)
			in.Services = append(in.Services, o)
		case "EndpointSlice":
			var o discoveryv1.EndpointSlice
			err = yaml.Unmarshal(doc, &o)
			in.EndpointSlices = append(in.EndpointSlices, o)
		case "HTTPRoute":
			var o gwv1.HTTPRoute
			err = yaml.Unmarshal(doc, &o)
			in.HTTPRoutes = append(in.HTTPRoutes, o)
		case "GRPCRoute":
			var o gwv1.GRPCRoute
			err = yaml.Unmarshal(doc, &o)
			in.GRPCRoutes = append(in.GRPCRoutes, o)
		case "ReferenceGrant":
			var o gwv1beta1.ReferenceGrant
			err = yaml.Unmarshal(doc, &o)
			in.ReferenceGrants = append(in.ReferenceGrants, o)
		case "Namespace":
			var o corev1.Namespace
			err = yaml.Unmarshal(doc, &o)
			in.Namespaces = append(in.Namespaces, o)
		case "":
			// A document of comments only.
		default:
			t.Fatalf("document %d: kind %q not handled; add it here", i, tm.Kind)
		}
		if err != nil {
			t.Fatalf("decode %s (document %d): %v", tm.Kind, i, err)
		}
	}
	return in
}
