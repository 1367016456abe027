package main

import (
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gammaproof/gammaproof/suite/image"
)

// TestImagesPush pushes with --bin-dir-<arch> to a registry on 127.0.0.1
// and reads every image index back. suite/image's tests check the layers;
// this checks the command: every image, both platforms, the tag, the lines
// it prints.
func TestImagesPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"images", "push", "--registry", u.Host + "/mirror", "--tag", "t1"}
	for _, arch := range image.Architectures {
		dir := t.TempDir()
		for _, s := range image.Ours {
			if err := os.WriteFile(filepath.Join(dir, s.Binary), []byte(arch+" "+s.Binary), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "--bin-dir-"+arch, dir)
	}
	code, stdout, stderr := runIn(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range image.Ours {
		ref := u.Host + "/mirror/" + s.Repository + ":t1"
		if !strings.Contains(stdout, "images: pushed "+ref+"@sha256:") {
			t.Errorf("output %q does not report %s", stdout, ref)
		}
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(r)
		if err != nil {
			t.Fatalf("read back %s: %v", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var platforms []string
		for _, m := range im.Manifests {
			platforms = append(platforms, m.Platform.String())
		}
		if got := strings.Join(platforms, ","); got != "linux/amd64,linux/arm64" {
			t.Errorf("%s platforms %s, want linux/amd64,linux/arm64", ref, got)
		}
	}
}
