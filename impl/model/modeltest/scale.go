// Package modeltest holds model inputs shared by the tests and benchmarks
// of the model and of the packages that consume its meshes.
package modeltest

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/impl/model"
)

// ScaleInput has n Services (one port, three ready endpoints each) and n
// HTTPRoutes, route i on Service i splitting 90/10 between Services i and i+1.
// It is the fixture of the 10k-Service benchmarks of the model and xDS
// packages.
func ScaleInput(n int) model.Input {
	var in model.Input
	group, kind := gwv1.Group(""), gwv1.Kind("Service")
	for i := range n {
		ns := fmt.Sprintf("ns-%d", i%100)
		name := fmt.Sprintf("svc-%d", i)
		in.Services = append(in.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{
				ClusterIP: fmt.Sprintf("198.19.%d.%d", i/256%256, i%256),
				Ports:     []corev1.ServicePort{{Name: "http", Port: 8080}},
			},
		})
		port, pname, ready := int32(80), "http", true
		es := discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &port}},
		}
		for j := range 3 {
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("198.18.%d.%d", (i*3+j)/256%256, (i*3+j)%256)},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			})
		}
		in.EndpointSlices = append(in.EndpointSlices, es)
	}
	for i := range n {
		next := (i + 1) % n
		p8080, w90, w10 := gwv1.PortNumber(8080), int32(90), int32(10)
		nextNS := gwv1.Namespace(fmt.Sprintf("ns-%d", next%100))
		prefix := fmt.Sprintf("/api/%d", i)
		in.HTTPRoutes = append(in.HTTPRoutes, gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%100), Name: fmt.Sprintf("route-%d", i), Generation: 1},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: &group, Kind: &kind, Name: gwv1.ObjectName(fmt.Sprintf("svc-%d", i)), Port: &p8080}}},
				Rules: []gwv1.HTTPRouteRule{
					{
						Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Value: &prefix}}},
						BackendRefs: []gwv1.HTTPBackendRef{
							{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(fmt.Sprintf("svc-%d", i)), Port: &p8080}, Weight: &w90}},
							{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(fmt.Sprintf("svc-%d", next)), Namespace: &nextNS, Port: &p8080}, Weight: &w10}},
						},
					},
					{},
				},
			},
		})
	}
	return in
}
