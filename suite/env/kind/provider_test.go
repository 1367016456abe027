package kind

import (
	"context"
	"errors"
	"testing"
)

// TestCreateWithoutEngine proves that without a container engine Create
// fails with a clear error instead of kind's late, cryptic one.
func TestCreateWithoutEngine(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p := New()
	_, err := p.Create(context.Background())
	if !errors.Is(err, ErrNoContainerEngine) {
		t.Fatalf("Create without docker/podman: err = %v, want ErrNoContainerEngine", err)
	}
	if EngineAvailable() {
		t.Fatal("EngineAvailable with an empty PATH")
	}
}

func TestProviderDefaults(t *testing.T) {
	p := New()
	p.WithName("x").WithVersion("v1.37.0").SetDefaults()
	if p.image != "kindest/node:v1.37.0" || p.GetKubectlContext() != "kind-x" {
		t.Fatalf("image %q context %q", p.image, p.GetKubectlContext())
	}
	// Without WithVersion the config's node images stay.
	q := New()
	q.SetDefaults()
	if q.image != "" {
		t.Fatalf("SetDefaults set image %q, want none (the config's)", q.image)
	}
}
