package fault

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/scenario"
)

// scenarioInput is the model input of the named scenarios after all their
// steps (files a step deletes are left out, as are the files in skip): the
// scenarios' own manifests, every Service given a ClusterIP and one ready
// endpoint per port, as on a cluster.
func scenarioInput(t *testing.T, names []string, skip ...string) model.Input {
	t.Helper()
	return loadInput(t, names, false, skip)
}

// loadInput is scenarioInput; with keepDeleted the files steps delete
// stay (the state before the delete step).
func loadInput(t *testing.T, names []string, keepDeleted bool, skip []string) model.Input {
	t.Helper()
	in := model.Input{GrantPolicy: grantpolicy.Spec}
	ip := 0
	for _, name := range names {
		s, err := scenario.Load(filepath.Join(repo.Root(), "scenarios", name))
		if err != nil {
			t.Fatal(err)
		}
		if s.GrantPolicy == string(grantpolicy.Strict) {
			in.GrantPolicy = grantpolicy.Strict
		}
		var files, deleted []string
		for _, st := range s.Steps {
			files = append(files, st.Apply...)
			deleted = append(deleted, st.Delete...)
		}
		for _, f := range files {
			if !keepDeleted && slices.Contains(deleted, f) || slices.Contains(skip, f) {
				continue
			}
			objs, err := s.Objects(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range objs {
				var into any
				switch u.GetKind() {
				case "Service":
					into = &corev1.Service{}
				case "HTTPRoute":
					into = &gwv1.HTTPRoute{}
				case "GRPCRoute":
					into = &gwv1.GRPCRoute{}
				case "ReferenceGrant":
					into = &gwv1beta1.ReferenceGrant{}
				case "Namespace":
					into = &corev1.Namespace{}
				default:
					continue
				}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
					t.Fatalf("%s/%s: %v", name, f, err)
				}
				switch o := into.(type) {
				case *corev1.Service:
					ip++
					o.Spec.ClusterIP = fmt.Sprintf("198.19.%d.%d", ip/250, ip%250+1)
					o.Spec.ClusterIPs = []string{o.Spec.ClusterIP}
					in.Services = append(in.Services, *o)
					in.EndpointSlices = append(in.EndpointSlices, endpointSlice(o, ip))
				case *gwv1.HTTPRoute:
					o.Generation = 1
					in.HTTPRoutes = append(in.HTTPRoutes, *o)
				case *gwv1.GRPCRoute:
					o.Generation = 1
					in.GRPCRoutes = append(in.GRPCRoutes, *o)
				case *gwv1beta1.ReferenceGrant:
					in.ReferenceGrants = append(in.ReferenceGrants, *o)
				case *corev1.Namespace:
					in.Namespaces = append(in.Namespaces, *o)
				}
			}
		}
	}
	return in
}

// endpointSlice has one ready endpoint of svc serving every port.
func endpointSlice(svc *corev1.Service, n int) discoveryv1.EndpointSlice {
	ready := true
	es := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{fmt.Sprintf("198.18.%d.%d", n/250, n%250+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		}},
	}
	for _, p := range svc.Spec.Ports {
		name, port := p.Name, p.TargetPort.IntVal
		if port == 0 {
			port = p.Port
		}
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: &name, Port: &port})
	}
	return es
}
