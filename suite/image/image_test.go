package image

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteAllRoundTrip(t *testing.T) {
	binDir, outDir := t.TempDir(), t.TempDir()
	payload := []byte("#!/bin/true\nnot really a binary\n")
	if err := os.WriteFile(filepath.Join(binDir, "gamma-echo"), payload, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Repository: "gammaproof/echo", Binary: "gamma-echo"}
	paths, err := WriteAll([]Spec{spec}, binDir, outDir)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("docker.io/gammaproof/echo:dev")
	img, err := tarball.ImageFromPath(paths[0], &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/usr/local/bin/gamma-echo" {
		t.Errorf("entrypoint %q", got)
	}
	b, mode, found := onlyLayerFile(t, img, "usr/local/bin/gamma-echo")
	if !found || string(b) != string(payload) || mode&0o111 == 0 {
		t.Fatal("binary not in the layer, or not executable, or changed")
	}

	// Reproducible: building again gives the same digest.
	again, err := Build(spec, filepath.Join(binDir, "gamma-echo"))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("digests differ: %s vs %s", d1, d2)
	}
}

func TestWriteAllMissingBinary(t *testing.T) {
	_, err := WriteAll(Ours, t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v, want one saying to run make build", err)
	}
}

func TestInRegistry(t *testing.T) {
	tests := []struct{ ref, registry, want string }{
		{"gammaproof/echo:dev", "127.0.0.1:5000", "127.0.0.1:5000/gammaproof/echo:dev"},
		{"gammaproof/client:dev", "ghcr.io/me/", "ghcr.io/me/gammaproof/client:dev"},
		{"gammaproof/echo:dev", "", "gammaproof/echo:dev"},
		{"busybox:1.36", "127.0.0.1:5000", "busybox:1.36"},
		{"registry.k8s.io/gateway-api/echo-advanced:v1", "127.0.0.1:5000", "registry.k8s.io/gateway-api/echo-advanced:v1"},
	}
	for _, tt := range tests {
		if got := InRegistry(tt.ref, tt.registry); got != tt.want {
			t.Errorf("InRegistry(%q, %q) = %q, want %q", tt.ref, tt.registry, got, tt.want)
		}
	}
	for _, s := range Ours {
		if got, want := InRegistry(s.Ref(), "r:1"), s.RefIn("r:1", Tag); got != want {
			t.Errorf("InRegistry(%q) = %q, RefIn says %q", s.Ref(), got, want)
		}
	}
}

// onlyLayerFile returns the contents and mode of the file at path (no
// leading slash) in img's only layer; found is false if it is not there. The
// test stops if img has more or fewer layers than one.
func onlyLayerFile(t *testing.T, img v1.Image, path string) (data []byte, mode int64, found bool) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return data, mode, found
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == path {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
			mode, found = h.Mode, true
		}
	}
}
