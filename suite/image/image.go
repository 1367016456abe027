package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Tag is the tag our images carry; the deploy manifests use it.
const Tag = "dev"

// Spec names one image and the binary it runs.
type Spec struct {
	Repository string // e.g. "gammaproof/echo"
	Binary     string // file name in the bin directory, e.g. "gamma-echo"
}

// Ref returns the image reference, e.g. "gammaproof/echo:dev".
func (s Spec) Ref() string { return s.Repository + ":" + Tag }

// Ours lists the images gammaproof ships.
var Ours = []Spec{
	{Repository: "gammaproof/controller", Binary: "gamma-controller"},
	{Repository: "gammaproof/node", Binary: "gamma-node"},
	{Repository: "gammaproof/echo", Binary: "gamma-echo"},
	{Repository: "gammaproof/client", Binary: "gamma-client"},
}

// epoch is the fixed timestamp of every file and image, so a build is
// reproducible: the same binary gives the same image digest.
var epoch = time.Unix(0, 0).UTC()

// Build returns an image with the binary at /usr/local/bin/<name> as its
// entrypoint, for the running architecture on linux, with Docker media
// types (what kind loads from a tarball).
func Build(s Spec, binaryPath string) (v1.Image, error) {
	return build(s, binaryPath, runtime.GOARCH, false)
}

// BuildOCI is [Build] for linux/arch with OCI media types, as an entry of
// an OCI image index ([BuildIndex]).
func BuildOCI(s Spec, binaryPath, arch string) (v1.Image, error) {
	return build(s, binaryPath, arch, true)
}

func build(s Spec, binaryPath, arch string, oci bool) (v1.Image, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("read binary for %s: %w", s.Ref(), err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode, ModTime: epoch}); err != nil {
			return nil, fmt.Errorf("write layer: %w", err)
		}
	}
	target := "usr/local/bin/" + filepath.Base(s.Binary)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: target, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch}); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	layerBytes := buf.Bytes()
	base, layerOpts := empty.Image, []tarball.LayerOption(nil)
	if oci {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, layerOpts...)
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{"/" + target}
	cf.Config.Env = []string{"PATH=/usr/local/bin"}
	cf.Config.User = "0"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// WriteAll builds every image in specs from binaries in binDir and writes
// one tarball per image into outDir (named after the binary), returning
// their paths. A missing binary is an error saying to run `make build`.
func WriteAll(specs []Spec, binDir, outDir string) ([]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create image dir: %w", err)
	}
	var paths []string
	for _, s := range specs {
		bin := filepath.Join(binDir, s.Binary)
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("build image %s: %s missing (run `make build`): %w", s.Ref(), bin, err)
		}
		img, err := Build(s, bin)
		if err != nil {
			return nil, err
		}
		ref, err := name.NewTag("docker.io/" + s.Ref())
		if err != nil {
			return nil, fmt.Errorf("parse tag %s: %w", s.Ref(), err)
		}
		out := filepath.Join(outDir, s.Binary+".tar")
		tmp := out + ".tmp"
		if err := tarball.WriteToFile(tmp, ref, img); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
		if err := os.Rename(tmp, out); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
		paths = append(paths, out)
	}
	return paths, nil
}
