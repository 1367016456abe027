package image

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// helloModule writes a module whose ./cmd/<binary> for every spec is a
// small program printing its name, and returns its root.
func helloModule(t *testing.T, specs []Spec) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.26\n")
	for _, s := range specs {
		write(filepath.Join("cmd", s.Binary, "main.go"), "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\""+s.Binary+"\\n\") }\n")
	}
	return root
}

// crossCompiled builds the specs' binaries for every architecture of
// [Architectures] and returns architecture → directory.
func crossCompiled(t *testing.T, specs []Spec) map[string]string {
	t.Helper()
	root := helloModule(t, specs)
	dirs := map[string]string{}
	for _, arch := range Architectures {
		dirs[arch] = filepath.Join(t.TempDir(), arch)
		if err := CrossCompile(t.Context(), root, dirs[arch], arch, specs); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// loopbackRegistry serves go-containerregistry's registry on 127.0.0.1 and
// returns its host:port.
func loopbackRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestPushMultiArch(t *testing.T) {
	specs := []Spec{
		{Repository: "gammaproof/echo", Binary: "gamma-echo"},
		{Repository: "gammaproof/client", Binary: "gamma-client"},
	}
	dirs := crossCompiled(t, specs)
	reg := loopbackRegistry(t)

	pushed, err := Push(t.Context(), reg, "v1", specs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != len(specs) {
		t.Fatalf("pushed %d images, want %d", len(pushed), len(specs))
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for i, s := range specs {
		t.Run(s.Repository, func(t *testing.T) {
			if want := reg + "/" + s.Repository + ":v1"; pushed[i].Ref != want {
				t.Errorf("pushed ref %q, want %q", pushed[i].Ref, want)
			}
			ref, err := name.ParseReference(pushed[i].Ref)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := remote.Index(ref, remote.WithContext(t.Context()))
			if err != nil {
				t.Fatalf("read back index: %v", err)
			}
			if d, _ := idx.Digest(); d.String() != pushed[i].Digest {
				t.Errorf("index digest %s, Push said %s", d, pushed[i].Digest)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if im.MediaType != types.OCIImageIndex {
				t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
			}
			var platforms []string
			for _, desc := range im.Manifests {
				if desc.Platform == nil {
					t.Fatalf("manifest %s has no platform", desc.Digest)
				}
				arch := desc.Platform.Architecture
				platforms = append(platforms, desc.Platform.OS+"/"+arch)
				img, err := idx.Image(desc.Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, img, s, arch, wantMachine[arch], filepath.Join(dirs[arch], s.Binary))
			}
			if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
				t.Errorf("platforms %q, want %q", platforms, want)
			}
		})
	}
}

// checkImage checks that img is an OCI image for linux/arch whose only
// layer holds exactly the binary at s.BinaryPath(), an ELF file for machine,
// and whose entrypoint is that path.
func checkImage(t *testing.T, img v1.Image, s Spec, arch string, machine elf.Machine, binary string) {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("%s image media type %s (%v), want %s", arch, mt, err, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("config platform %s/%s, want linux/%s", cf.OS, cf.Architecture, arch)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{s.BinaryPath()}) {
		t.Errorf("entrypoint %q, want %q", cf.Config.Entrypoint, s.BinaryPath())
	}
	got, mode, found := onlyLayerFile(t, img, strings.TrimPrefix(s.BinaryPath(), "/"))
	if !found {
		t.Fatalf("%s image has no %s", arch, s.BinaryPath())
	}
	if mode&0o111 == 0 {
		t.Errorf("%s is not executable: mode %o", s.BinaryPath(), mode)
	}
	f, err := elf.NewFile(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("%s in the %s image is not ELF: %v", s.BinaryPath(), arch, err)
	}
	if f.Machine != machine {
		t.Errorf("%s in the %s image is for %s, want %s", s.BinaryPath(), arch, f.Machine, machine)
	}
	want, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s in the %s image differs from %s", s.BinaryPath(), arch, binary)
	}
}

func TestPushMissingBinary(t *testing.T) {
	dir := t.TempDir()
	_, err := Push(context.Background(), loopbackRegistry(t), "v1", Ours, map[string]string{"amd64": dir})
	if err == nil || !strings.Contains(err.Error(), "linux/amd64") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a missing linux/amd64 binary", err)
	}
}

func TestCrossCompileNotACheckout(t *testing.T) {
	err := CrossCompile(context.Background(), t.TempDir(), t.TempDir(), "arm64", Ours)
	if err == nil || !strings.Contains(err.Error(), "not a module checkout") {
		t.Fatalf("err = %v, want one saying it is not a module checkout", err)
	}
}
