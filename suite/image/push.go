package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Architectures are the linux architectures a pushed image index holds.
var Architectures = []string{"amd64", "arm64"}

// BinaryPath is where an image built here holds its binary, e.g.
// "/usr/local/bin/gamma-echo"; it is the image's entrypoint.
func (s Spec) BinaryPath() string { return "/usr/local/bin/" + filepath.Base(s.Binary) }

// RefIn returns the reference of s in registry with tag, e.g.
// "127.0.0.1:5000/gammaproof/echo:v1".
func (s Spec) RefIn(registry, tag string) string {
	return strings.TrimSuffix(registry, "/") + "/" + s.Repository + ":" + tag
}

// BuildIndex returns an OCI image index for s with one image per entry of
// binaries (linux architecture → path of the binary built for it), in the
// order of [Architectures] first.
func BuildIndex(s Spec, binaries map[string]string) (v1.ImageIndex, error) {
	if len(binaries) == 0 {
		return nil, fmt.Errorf("build index %s: no binaries", s.Repository)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range archOrder(binaries) {
		img, err := BuildOCI(s, binaries[arch], arch)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: "linux", Architecture: arch},
			},
		})
	}
	return idx, nil
}

// archOrder lists the keys of binaries: [Architectures] first, then the
// rest sorted.
func archOrder(binaries map[string]string) []string {
	var out []string
	for _, a := range Architectures {
		if _, ok := binaries[a]; ok {
			out = append(out, a)
		}
	}
	var rest []string
	for a := range binaries {
		if !slices.Contains(Architectures, a) {
			rest = append(rest, a)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// Pushed is one image index written to a registry.
type Pushed struct {
	// Ref is the tagged reference, e.g. "127.0.0.1:5000/gammaproof/echo:v1".
	Ref string
	// Digest is the digest of the index.
	Digest string
	// Architectures are the linux architectures the index holds.
	Architectures []string
}

// Push builds an image index per spec from the binaries in binDirs (linux
// architecture → directory holding every spec's Binary built for it) and
// pushes it to registry as <registry>/<Repository>:<tag>. Credentials come
// from the Docker config ($DOCKER_CONFIG or ~/.docker/config.json); a
// registry on a loopback or private address is spoken to over plain HTTP.
func Push(ctx context.Context, registry, tag string, specs []Spec, binDirs map[string]string) ([]Pushed, error) {
	if registry == "" {
		return nil, fmt.Errorf("push images: no registry given")
	}
	if _, err := name.NewRegistry(strings.SplitN(registry, "/", 2)[0]); err != nil {
		return nil, fmt.Errorf("push images: registry %q: %w", registry, err)
	}
	var out []Pushed
	for _, s := range specs {
		bins := map[string]string{}
		for arch, dir := range binDirs {
			p := filepath.Join(dir, s.Binary)
			if _, err := os.Stat(p); err != nil {
				return out, fmt.Errorf("push %s: binary for linux/%s missing: %w", s.Repository, arch, err)
			}
			bins[arch] = p
		}
		idx, err := BuildIndex(s, bins)
		if err != nil {
			return out, err
		}
		ref, err := name.NewTag(s.RefIn(registry, tag))
		if err != nil {
			return out, fmt.Errorf("push %s: parse reference: %w", s.Repository, err)
		}
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return out, fmt.Errorf("push %s: %w", ref, err)
		}
		d, err := idx.Digest()
		if err != nil {
			return out, fmt.Errorf("push %s: digest: %w", ref, err)
		}
		out = append(out, Pushed{Ref: ref.String(), Digest: d.String(), Architectures: archOrder(bins)})
	}
	return out, nil
}

// InRegistry returns ref, one of our image references such as
// "gammaproof/echo:dev", as registry names it:
// "127.0.0.1:5000/gammaproof/echo:dev". Any other reference, or an empty
// registry, comes back unchanged.
func InRegistry(ref, registry string) string {
	if registry == "" || !strings.HasPrefix(ref, "gammaproof/") {
		return ref
	}
	return strings.TrimSuffix(registry, "/") + "/" + ref
}
