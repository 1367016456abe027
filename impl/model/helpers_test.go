package model_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/impl/model"
)

// parseInput decodes multi-document YAML into a model.Input.
func parseInput(t testing.TB, docs string) model.Input {
	t.Helper()
	in, err := decodeInput([]byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func decodeInput(b []byte) (model.Input, error) {
	var in model.Input
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return in, fmt.Errorf("decode document %d: %w", i, err)
		}
		var err error
		switch tm.Kind {
		case "Service":
			var o corev1.Service
			err = yaml.UnmarshalStrict(doc, &o)
			in.Services = append(in.Services, o)
		case "EndpointSlice":
			var o discoveryv1.EndpointSlice
			err = yaml.UnmarshalStrict(doc, &o)
			in.EndpointSlices = append(in.EndpointSlices, o)
		case "HTTPRoute":
			var o gwv1.HTTPRoute
			err = yaml.UnmarshalStrict(doc, &o)
			in.HTTPRoutes = append(in.HTTPRoutes, o)
		case "GRPCRoute":
			var o gwv1.GRPCRoute
			err = yaml.UnmarshalStrict(doc, &o)
			in.GRPCRoutes = append(in.GRPCRoutes, o)
		case "ReferenceGrant":
			var o gwv1beta1.ReferenceGrant
			err = yaml.UnmarshalStrict(doc, &o)
			in.ReferenceGrants = append(in.ReferenceGrants, o)
		case "Namespace":
			var o corev1.Namespace
			err = yaml.UnmarshalStrict(doc, &o)
			in.Namespaces = append(in.Namespaces, o)
		default:
			return in, fmt.Errorf("decode document %d: unknown kind %q", i, tm.Kind)
		}
		if err != nil {
			return in, fmt.Errorf("decode %s in document %d: %w", tm.Kind, i, err)
		}
	}
	return in, nil
}

// listener finds a listener by name.
func listener(t testing.TB, m *model.Mesh, name string) model.Listener {
	t.Helper()
	for _, l := range m.Listeners {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no listener %q; have %v", name, listenerNames(m))
	return model.Listener{}
}

func listenerNames(m *model.Mesh) []string {
	var out []string
	for _, l := range m.Listeners {
		out = append(out, l.Name)
	}
	return out
}

// cond returns "Status/Reason" of a condition of route kind/ns/name for the
// parent with the given name (and port, 0 = none).
func cond(t testing.TB, m *model.Mesh, route, parent, typ string) string {
	t.Helper()
	kind, rest, _ := strings.Cut(route, "/")
	ns, name, _ := strings.Cut(rest, "/")
	for _, rs := range m.Routes {
		if rs.Kind != kind || rs.Namespace != ns || rs.Name != name {
			continue
		}
		for _, p := range rs.Parents {
			id := string(p.ParentRef.Name)
			if p.ParentRef.Port != nil {
				id += fmt.Sprintf(":%d", *p.ParentRef.Port)
			}
			if id != parent {
				continue
			}
			for _, c := range p.Conditions {
				if c.Type == typ {
					if c.ObservedGeneration != rs.Generation {
						t.Errorf("%s %s: observedGeneration %d, want %d", route, typ, c.ObservedGeneration, rs.Generation)
					}
					return string(c.Status) + "/" + c.Reason
				}
			}
			return "absent"
		}
	}
	return "no status"
}

// backends renders a route's backends as "cluster=weight" or "!Reason=weight".
func backends(r model.Route) string {
	if r.DirectResponse500 {
		return "500"
	}
	if r.Redirect != nil {
		return fmt.Sprintf("redirect %d", r.Redirect.StatusCode)
	}
	var s []string
	for _, b := range r.Backends {
		n := b.Cluster
		if b.Invalid != "" {
			n = "!" + b.Invalid
		}
		s = append(s, fmt.Sprintf("%s=%d", n, b.Weight))
	}
	return strings.Join(s, ",")
}

// routeTable renders a listener's routes one per line: "Name path -> backends".
func routeTable(l model.Listener) []string {
	var out []string
	for _, r := range l.Routes {
		out = append(out, fmt.Sprintf("%s %s:%s -> %s", r.Name, r.Match.PathType, r.Match.PathValue, backends(r)))
	}
	return out
}

// common objects for the tests.
const baseYAML = `
apiVersion: v1
kind: Service
metadata: {name: bookstore, namespace: team-a}
spec:
  clusterIP: 198.19.0.10
  clusterIPs: [198.19.0.10]
  ports: [{name: http, port: 8080, targetPort: 80}, {name: admin, port: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: bookstore-v1, namespace: team-a}
spec:
  clusterIP: 198.19.0.11
  ports: [{name: http, port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: bookstore-v2, namespace: team-a}
spec:
  clusterIP: 198.19.0.12
  ports: [{name: http, port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: team-c}
spec:
  clusterIP: 198.19.0.13
  ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bookstore-v1-abc, namespace: team-a, labels: {kubernetes.io/service-name: bookstore-v1}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints:
- addresses: [198.18.0.7]
  conditions: {ready: true}
- addresses: [198.18.0.5]
- addresses: [198.18.0.9]
  conditions: {ready: false}
`
