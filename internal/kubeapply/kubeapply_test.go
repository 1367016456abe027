package kubeapply

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gammaproof/gammaproof/internal/testenv"
)

const manifests = `
apiVersion: v1
kind: Namespace
metadata:
  name: apply-test
---
apiVersion: v1
kind: Service
metadata:
  name: bookstore
  namespace: apply-test
spec:
  ports:
  - port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: split
  namespace: apply-test
spec:
  parentRefs:
  - {group: "", kind: Service, name: bookstore, port: 8080}
  rules:
  - backendRefs:
    - {name: bookstore, port: 8080}
`

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"kind: Service\nmetadata: {name: a}\n", "apiVersion is missing"},
		{"apiVersion: v1\nmetadata: {name: a}\n", "kind is missing"},
		{"apiVersion: v1\nkind: Service\n", "metadata.name is missing"},
		{"apiVersion: v1\nkind: [\n", "document 0"},
	}
	for _, tt := range tests {
		if _, err := Decode([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%q) err = %v, want %q", tt.yaml, err, tt.want)
		}
	}
	objs, err := Decode([]byte("---\n" + manifests + "\n---\n"))
	if err != nil || len(objs) != 3 {
		t.Fatalf("Decode: %d objects, err %v", len(objs), err)
	}
}

// TestApplyDryRunDelete runs against a real kube-apiserver.
func TestApplyDryRunDelete(t *testing.T) {
	cfg := testenv.Start(t)
	ctx := context.Background()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	routes := dyn.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}).Namespace("apply-test")

	// The namespace must exist for a dry run of namespaced objects.
	if err := a.Apply(ctx, objs[:1], false); err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, objs[1:], true); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := routes.Get(ctx, "split", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run persisted the route: err = %v", err)
	}
	if err := a.Apply(ctx, objs, false); err != nil {
		t.Fatal(err)
	}
	if _, err := routes.Get(ctx, "split", metav1.GetOptions{}); err != nil {
		t.Fatalf("route not applied: %v", err)
	}
	// Applying again is a no-op, not an error.
	if err := a.Apply(ctx, objs, false); err != nil {
		t.Fatal(err)
	}
	// An invalid object is rejected by the server with its reason.
	bad, _ := Decode([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: bad, namespace: apply-test}\nspec:\n  rules:\n  - backendRefs:\n    - {name: x, port: 99999}\n"))
	if err := a.Apply(ctx, bad, true); err == nil || !strings.Contains(err.Error(), "HTTPRoute apply-test/bad") {
		t.Fatalf("invalid route: err = %v", err)
	}
	if err := a.Delete(ctx, objs[1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := routes.Get(ctx, "split", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("route not deleted: err = %v", err)
	}
	if err := a.Delete(ctx, objs[1:]); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}
