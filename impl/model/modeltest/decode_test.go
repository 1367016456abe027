package modeltest

import (
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
)

func TestDecode(t *testing.T) {
	in, err := Decode([]byte(`# comments only
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: e, namespace: a}
addressType: IPv4
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h, namespace: a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: a}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: r, namespace: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: a}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Services) != 1 || len(in.EndpointSlices) != 1 || len(in.HTTPRoutes) != 1 || len(in.GRPCRoutes) != 1 || len(in.ReferenceGrants) != 1 || len(in.Namespaces) != 1 {
		t.Errorf("input = %+v, want one object of each kind", in)
	}
	if in.HTTPRoutes[0].Name != "h" {
		t.Errorf("HTTPRoute name = %q", in.HTTPRoutes[0].Name)
	}
	for _, tc := range []struct{ name, docs, want string }{
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", `document 0: kind "Pod" is not a model input`},
		{"unknown field", "apiVersion: v1\nkind: Service\nspec: {nope: 1}\n", "document 0: decode Service"},
		{"not YAML", "kind: [\n", "document 0: decode"},
	} {
		if _, err := Decode([]byte(tc.docs)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestAddDocumentLenient(t *testing.T) {
	var in model.Input
	if err := AddDocument(&in, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {nope: 1}\n"), false); err != nil || len(in.Services) != 1 {
		t.Errorf("lenient decode of an unknown field: %v, %d services; want it decoded", err, len(in.Services))
	}
	if err := AddDocument(&in, []byte("apiVersion: v1\nkind: Service\nspec: {ports: 7}\n"), false); err == nil || len(in.Services) != 1 {
		t.Errorf("a Service that does not decode: %v, %d services; want an error and no object added", err, len(in.Services))
	}
}
