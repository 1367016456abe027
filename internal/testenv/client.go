package testenv

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Client returns a controller-runtime client of cfg that knows the types
// newScheme registers (such as controller.NewScheme's). An error stops the
// test.
func Client(t testing.TB, cfg *rest.Config, newScheme func() (*runtime.Scheme, error)) client.Client {
	t.Helper()
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client for the test API server: %v", err)
	}
	return c
}
