package fault

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xds"
	"github.com/gammaproof/gammaproof/internal/faultcatalog"
)

func TestEveryCatalogueFaultIsImplemented(t *testing.T) {
	want := faultcatalog.Names()
	slices.Sort(want)
	if got := Implemented(); !slices.Equal(got, want) {
		t.Fatalf("implemented faults %v\ncatalogue          %v", got, want)
	}
}

func TestNewUnknownFault(t *testing.T) {
	_, err := New("split-skew-80")
	if err == nil || !strings.Contains(err.Error(), "split-skew-8,") || !strings.Contains(err.Error(), `"split-skew-80"`) {
		t.Fatalf("New(split-skew-80) error %v; want one naming it and listing the known faults", err)
	}
}

// representative names the scenarios a fault's unit test builds its input
// from when the catalogue names none (the fault is a gap in the suite).
// Every catalogued fault has scenarios now; the map stays for the next gap.
var representative = map[string][]string{}

// inputs returns what a fault's injector sees first (nil for stateless
// faults) and then the input the correct and faulty meshes are built from.
func inputs(t *testing.T, fault string, names []string) (first, then func() model.Input) {
	then = func() model.Input { return scenarioInput(t, names) }
	switch fault {
	case "revoked-grant-honoured", "deleted-route-still-applied":
		// Before the scenario's delete step the grants (the route) exist.
		first = func() model.Input { return loadInput(t, names, true, nil) }
	}
	return first, then
}

// TestEveryFaultChangesTheMesh builds, for each fault, the mesh of the
// scenarios that must catch it, correct and faulty: the faulty one must
// differ and still translate to the xDS the proxy takes. A fault of the
// mesh only leaves route status alone.
func TestEveryFaultChangesTheMesh(t *testing.T) {
	for _, f := range faultcatalog.All() {
		t.Run(f.Name, func(t *testing.T) {
			names := f.Scenarios
			if len(names) == 0 {
				names = representative[f.Name]
			}
			if len(names) == 0 {
				t.Fatal("no scenario to build a representative input from")
			}
			inj, err := New(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			first, then := inputs(t, f.Name, names)
			if first != nil {
				inj.Mesh(first())
			}
			correct := model.Build(then())
			faulty := inj.Mesh(then())
			if reflect.DeepEqual(correct.Listeners, faulty.Listeners) && reflect.DeepEqual(correct.Clusters, faulty.Clusters) {
				t.Fatalf("the fault changes nothing in the mesh of %v", names)
			}
			if inj.input == nil && !reflect.DeepEqual(correct.Routes, faulty.Routes) {
				t.Errorf("a mesh fault changed route status")
			}
			if _, err := xds.Translate(faulty); err != nil {
				t.Fatalf("the faulty mesh does not translate: %v", err)
			}
		})
	}
}

func TestSplitSkew(t *testing.T) {
	for _, tc := range []struct {
		fault string
		want  []uint32 // weights of mesh-weight's 70/30 route
	}{
		{"split-skew-3", []uint32{6700, 3300}},
		{"split-skew-5", []uint32{6500, 3500}},
		{"split-skew-8", []uint32{6200, 3800}},
		{"weights-ignored", []uint32{1, 1}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			inj, err := New(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			m := inj.Mesh(scenarioInput(t, []string{"mesh-weight"}))
			var got []uint32
			for _, l := range m.Listeners {
				for _, r := range l.Routes {
					for _, b := range r.Backends {
						got = append(got, b.Weight)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("weights %v, want %v", got, tc.want)
			}
		})
	}
}

func TestZeroWeightGetsOnePercent(t *testing.T) {
	inj, err := New("weight-zero-gets-one-percent")
	if err != nil {
		t.Fatal(err)
	}
	m := inj.Mesh(scenarioInput(t, []string{"backend-semantics"}))
	for _, l := range m.Listeners {
		for _, r := range l.Routes {
			if r.Match.PathValue != "/zero" {
				continue
			}
			var total, v2 uint32
			for _, b := range r.Backends {
				total += b.Weight
				if b.Service.Name == "echo-v2" {
					v2 = b.Weight
				}
			}
			if v2 == 0 || 100*v2 != total {
				t.Fatalf("/zero backends %+v: want echo-v2 at 1%%", r.Backends)
			}
			return
		}
	}
	t.Fatal("no /zero route in the mesh")
}

// recorder is the next sink: it keeps the last mesh.
type recorder struct{ last *model.Mesh }

func (r *recorder) Update(_ context.Context, m *model.Mesh) error { r.last = m; return nil }

var _ controller.MeshSink = (*Sink)(nil)

// TestSinkPassesTheFaultyMesh lists the cluster state through a
// controller-runtime client and hands on the faulty mesh, not the one it
// was given.
func TestSinkPassesTheFaultyMesh(t *testing.T) {
	in := scenarioInput(t, []string{"mesh-weight"})
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme)
	for i := range in.Services {
		b = b.WithObjects(&in.Services[i])
	}
	for i := range in.EndpointSlices {
		b = b.WithObjects(&in.EndpointSlices[i])
	}
	for i := range in.HTTPRoutes {
		b = b.WithObjects(&in.HTTPRoutes[i])
	}
	inj, err := New("split-skew-8")
	if err != nil {
		t.Fatal(err)
	}
	next := &recorder{}
	correct := model.Build(scenarioInput(t, []string{"mesh-weight"}))
	if err := NewSink(next, b.Build(), in.GrantPolicy, inj).Update(context.Background(), correct); err != nil {
		t.Fatal(err)
	}
	if next.last == nil || next.last == correct || len(next.last.Listeners) != 1 {
		t.Fatalf("next sink got %+v", next.last)
	}
	if w := next.last.Listeners[0].Routes[0].Backends[0].Weight; w != 6200 {
		t.Fatalf("next sink got weight %d for v1, want the skewed 6200", w)
	}
}
