package node

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ErrImageNotResolvable is returned by [ImageTable.Resolve] for an image
// reference that maps to nothing on this machine. Only a registry on this
// machine is pulled from ([PullsFromRegistry]).
var ErrImageNotResolvable = errors.New("image not resolvable")

// ErrImageBinaryMissing is returned by [ImageTable.Resolve] when an image maps
// to a binary that has not been built yet.
var ErrImageBinaryMissing = errors.New("image binary missing")

// Image is what an image reference resolves to on this machine: a tool set
// (the PATH a container gets) and a default entrypoint.
type Image struct {
	// Name is the table entry that matched, such as "busybox".
	Name string
	// Entrypoint is the image ENTRYPOINT: a container's command replaces
	// it, its args follow it.
	Entrypoint []string
	// Cmd is the image CMD: the default args, replaced by a container's
	// args or command.
	Cmd []string
	// Dir holds symlinks to the image's own executables; it comes first in PATH.
	Dir string
	// Links maps a file name in Dir to the executable it points at.
	Links map[string]string
	// HostPath lists host directories appended to PATH (host tools), if any.
	HostPath []string
	// Files maps a file the image carries at the root of its file system
	// (such as "/cert.crt") to the host file holding it. A container of the
	// image sees each read-only at that path, in its own mount namespace
	// only: nothing is written to the host's root.
	Files map[string]string
}

// PATH returns the PATH a container of this image gets.
func (im Image) PATH() string {
	return strings.Join(append([]string{im.Dir}, im.HostPath...), ":")
}

// ImageTable maps image references to local executables. Its zero value is
// not usable; build one with [NewImageTable]. It is safe for concurrent use.
type ImageTable struct {
	binDir   string
	imageDir string
	busybox  string
	applets  func() ([]string, error)
	// findHAProxy returns the host's haproxy binary (see image_haproxy.go).
	findHAProxy func() (string, error)
}

// hostTools is the PATH tail of images that bring the host's shell tools.
var hostTools = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// ourImages maps our image repositories to the binary in the bin dir.
var ourImages = map[string]string{
	"gammaproof/echo":       "gamma-echo",
	"gammaproof/client":     "gamma-client",
	"gammaproof/controller": "gamma-controller",
	"gammaproof/node":       "gamma-node",
}

// echoAdvanced is upstream's mesh conformance echo app,
// registry.k8s.io/gateway-api/echo-advanced: Istio's echo server (the
// entrypoint) and client (run by the tests with kubectl exec), and the
// self-signed TLS files the server is started with. hack/build-istio-echo.sh
// builds them into the bin dir.
const echoAdvanced = "gateway-api/echo-advanced"

// echoAdvancedBuild is what builds the echo-advanced image's files.
const echoAdvancedBuild = "hack/build-istio-echo.sh"

// FaultsTag is the tag of our images that resolve to the fault-injecting
// build in the bin dir's faults/ folder (hack/build-faults.sh), such as
// gammaproof/controller:faults to bin/faults/gamma-controller. Every other
// tag resolves to the release binary.
const FaultsTag = "faults"

// NewImageTable returns a table that resolves our images to binaries in
// binDir, busybox images to the host busybox at busybox, haproxy images to
// the host's haproxy (PATH, else /usr/sbin), and keeps each image's
// tool-set directory under imageDir.
func NewImageTable(binDir, imageDir, busybox string) *ImageTable {
	return &ImageTable{
		binDir:   binDir,
		imageDir: imageDir,
		busybox:  busybox,
		applets: func() ([]string, error) {
			out, err := exec.Command(busybox, "--list").Output()
			if err != nil {
				return nil, fmt.Errorf("list busybox applets with %s --list: %w (install busybox-static)", busybox, err)
			}
			return strings.Fields(string(out)), nil
		},
		findHAProxy: findHAProxy,
	}
}

// Available lists the image names the table knows, for error messages.
func (t *ImageTable) Available() []string {
	names := []string{"busybox*", "nicolaka/netshoot*", echoAdvanced, haproxyImage}
	for k := range ourImages {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Repository reduces an image reference to its repository path: the registry
// host (anything with a dot, a colon or "localhost" before the first slash),
// "library/", the tag and the digest are dropped.
// "docker.io/library/busybox:1.36" becomes "busybox".
func Repository(ref string) string {
	r, _ := splitRef(ref)
	if i := strings.Index(r, "/"); i >= 0 {
		host := r[:i]
		if strings.ContainsAny(host, ".:") || host == "localhost" {
			r = r[i+1:]
		}
	}
	r = strings.TrimPrefix(r, "library/")
	return strings.ToLower(r)
}

// Tag returns the tag of an image reference ("" when it has none; a
// digest is not a tag).
func Tag(ref string) string {
	_, tag := splitRef(ref)
	return tag
}

// splitRef splits an image reference into its name (registry host and
// repository path, as written) and its tag ("" when it has none); a digest
// is dropped.
func splitRef(ref string) (name, tag string) {
	name = strings.TrimSpace(ref)
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i:], "/") {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// Resolve maps an image reference to an [Image] and makes sure its tool-set
// directory exists. It returns an error wrapping [ErrImageNotResolvable] (the
// message lists what is available) or [ErrImageBinaryMissing] (the message
// says what builds it: make build, hack/build-faults.sh for the faults tag,
// apt-get install haproxy for haproxy).
func (t *ImageTable) Resolve(ref string) (Image, error) {
	if PullsFromRegistry(ref) {
		return t.pull(ref) // pull.go: a registry on this machine
	}
	im, err := t.lookup(ref)
	if err != nil {
		return Image{}, err
	}
	build := "make build"
	switch {
	case im.Name == echoAdvanced:
		build = echoAdvancedBuild
	case im.Name == haproxyImage:
		build = haproxyInstall
	case Tag(ref) == FaultsTag:
		build = "hack/build-faults.sh"
	}
	for _, target := range slices.Concat(slices.Collect(maps.Values(im.Links)), slices.Collect(maps.Values(im.Files))) {
		if fi, err := os.Stat(target); err != nil || fi.IsDir() {
			return Image{}, fmt.Errorf("image %q needs %s: %w (run `%s`)", ref, target, ErrImageBinaryMissing, build)
		}
	}
	for dst := range im.Files {
		if err := checkRootFile(dst); err != nil {
			return Image{}, fmt.Errorf("image %q: %w", ref, err)
		}
	}
	if err := t.prepare(im); err != nil {
		return Image{}, err
	}
	return im, nil
}

func (t *ImageTable) lookup(ref string) (Image, error) {
	repo := Repository(ref)
	slug := strings.NewReplacer("/", "-", ".", "-").Replace(repo)
	switch {
	case ourImages[repo] != "":
		bin := ourImages[repo]
		binDir := t.binDir
		if Tag(ref) == FaultsTag {
			binDir, slug = filepath.Join(t.binDir, FaultsTag), slug+"-"+FaultsTag
		}
		return Image{
			Name:       repo,
			Entrypoint: []string{bin},
			Dir:        filepath.Join(t.imageDir, slug),
			Links:      map[string]string{bin: filepath.Join(binDir, bin)},
		}, nil
	case repo == echoAdvanced:
		files := filepath.Join(t.binDir, "istio-echo-files")
		return Image{
			Name:       echoAdvanced,
			Entrypoint: []string{"server"},
			Dir:        filepath.Join(t.imageDir, slug),
			Links: map[string]string{
				"server": filepath.Join(t.binDir, "istio-echo-server"),
				"client": filepath.Join(t.binDir, "istio-echo-client"),
			},
			Files: map[string]string{
				"/cert.crt": filepath.Join(files, "cert.crt"),
				"/cert.key": filepath.Join(files, "cert.key"),
			},
		}, nil
	case strings.HasPrefix(repo, "busybox"):
		applets, err := t.applets()
		if err != nil {
			return Image{}, err
		}
		links := map[string]string{"busybox": t.busybox}
		for _, a := range applets {
			links[a] = t.busybox
		}
		return Image{
			Name:  "busybox",
			Cmd:   []string{"sh"},
			Dir:   filepath.Join(t.imageDir, "busybox"),
			Links: links,
		}, nil
	case repo == haproxyImage:
		return t.haproxy(ref)
	case strings.HasPrefix(repo, "nicolaka/netshoot"):
		return Image{
			Name:     "nicolaka/netshoot",
			Cmd:      []string{"gamma-client"},
			Dir:      filepath.Join(t.imageDir, "netshoot"),
			Links:    map[string]string{"gamma-client": filepath.Join(t.binDir, "gamma-client")},
			HostPath: hostTools,
		}, nil
	}
	return Image{}, fmt.Errorf("image %q (repository %q): %w: nothing can be pulled here; available images: %s",
		ref, repo, ErrImageNotResolvable, strings.Join(t.Available(), ", "))
}

// checkRootFile checks that an image file's path is a file name at the
// root, such as "/cert.crt": a container's root is rebuilt to hold such
// files (see ContainerInit), deeper paths would be written into the host's
// directories.
func checkRootFile(dst string) error {
	name, ok := strings.CutPrefix(dst, "/")
	if !ok || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("image file %q must be a file name at the root, such as /cert.crt", dst)
	}
	return nil
}

// prepare creates im.Dir with its symlinks; it is idempotent.
func (t *ImageTable) prepare(im Image) error {
	if err := os.MkdirAll(im.Dir, 0o755); err != nil {
		return fmt.Errorf("create image dir: %w", err)
	}
	for name, target := range im.Links {
		p := filepath.Join(im.Dir, name)
		if cur, err := os.Readlink(p); err == nil && cur == target {
			continue
		}
		tmp := p + ".tmp"
		_ = os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			return fmt.Errorf("link %s in image %s: %w", name, im.Name, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("link %s in image %s: %w", name, im.Name, err)
		}
	}
	return nil
}

// Command turns a container's argv[0] into the executable to run against
// the image's tool set: a bare name is looked up in PATH by container-init;
// an absolute path whose base name the image provides (such as /bin/sh in a
// busybox image) becomes that tool; an absolute path elsewhere is kept only
// for images that bring host tools.
func (im Image) Command(arg0 string) (string, error) {
	if !strings.Contains(arg0, "/") {
		return arg0, nil
	}
	base := filepath.Base(arg0)
	if _, ok := im.Links[base]; ok {
		return filepath.Join(im.Dir, base), nil
	}
	if len(im.HostPath) > 0 {
		return arg0, nil
	}
	return "", fmt.Errorf("image %s has no %s (it provides: %s)", im.Name, arg0, strings.Join(im.names(), " "))
}

func (im Image) names() []string {
	var n []string
	for k := range im.Links {
		n = append(n, k)
	}
	slices.Sort(n)
	if len(n) > 20 {
		n = append(n[:20], "...")
	}
	return n
}

// Argv returns what a container runs, with Docker's rules: command
// replaces the entrypoint (and drops the image CMD), args replace the CMD.
func (im Image) Argv(command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, im.Entrypoint...), args...)
	}
	return append(append([]string{}, im.Entrypoint...), im.Cmd...)
}

// CheckImage returns the error [ImageTable.Resolve] gives for ref on a node
// with the binaries of binDir and the host busybox (from PATH, else
// /bin/busybox), or nil when ref resolves. It leaves nothing behind.
func CheckImage(binDir, ref string) error {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		busybox = "/bin/busybox"
	}
	dir, err := os.MkdirTemp("", "gammaproof-images-")
	if err != nil {
		return fmt.Errorf("check image %s: %w", ref, err)
	}
	_, rerr := NewImageTable(binDir, dir, busybox).Resolve(ref)
	if err := os.RemoveAll(dir); err != nil {
		return errors.Join(rerr, fmt.Errorf("remove temp dir: %w", err))
	}
	return rerr
}
