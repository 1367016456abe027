package node

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/gammaproof/gammaproof/suite/image"
)

func TestPullsFromRegistry(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"127.0.0.1:5000/gammaproof/echo:v1", true},
		{"127.0.0.1/gammaproof/echo", true},
		{"localhost:5000/gammaproof/client:1", true},
		{"localhost/gammaproof/client", true},
		{"[::1]:5000/gammaproof/node@sha256:00", true},
		{"127.3.2.1:80/x", true},
		{"198.18.0.1:5000/gammaproof/echo:v1", false},
		{"ghcr.io/gammaproof/echo:dev", false},
		{"docker.io/library/busybox:1.36", false},
		{"registry.k8s.io/pause:3.9", false},
		{"gammaproof/echo:dev", false},
		{"localhost", false},
		{"busybox", false},
	}
	for _, tt := range tests {
		if got := PullsFromRegistry(tt.ref); got != tt.want {
			t.Errorf("PullsFromRegistry(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

// staticHello builds a static linux/GOARCH program that prints its name and
// arguments, into dir/name.
func staticHello(t *testing.T, dir, name string) {
	t.Helper()
	src := t.TempDir()
	for file, content := range map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.26\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"path/filepath\"\n)\n\nfunc main() { fmt.Println(filepath.Base(os.Args[0]), os.Args[1:]) }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, name), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

func TestPullFromLoopbackRegistry(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("the local node runs linux images; this is %s", runtime.GOOS)
	}
	spec := image.Spec{Repository: "gammaproof/echo", Binary: "gamma-echo"}
	// The index holds our architecture's static binary, and for the other
	// a script that says it was picked by mistake.
	dirs := map[string]string{}
	for _, arch := range image.Architectures {
		dirs[arch] = t.TempDir()
		if arch == runtime.GOARCH {
			staticHello(t, dirs[arch], spec.Binary)
			continue
		}
		if err := os.WriteFile(filepath.Join(dirs[arch], spec.Binary), []byte("#!/bin/sh\necho wrong architecture\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := dirs[runtime.GOARCH]; !ok {
		t.Fatalf("images are pushed for %v, not for this node's %s", image.Architectures, runtime.GOARCH)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.Push(t.Context(), u.Host, "v1", []image.Spec{spec}, dirs); err != nil {
		t.Fatal(err)
	}
	ref := spec.RefIn(u.Host, "v1")
	if !PullsFromRegistry(ref) {
		t.Fatalf("%s is not pulled", ref)
	}

	// No binaries in the bin dir: the image can only come from the registry.
	imageDir := filepath.Join(t.TempDir(), "images")
	tab := NewImageTable(t.TempDir(), imageDir, "/bin/busybox")
	im := mustResolve(t, tab, ref)
	if want := u.Host + "/gammaproof/echo"; im.Name != want {
		t.Errorf("name %q, want %q", im.Name, want)
	}
	argv := im.Argv(nil, []string{"hello", "there"})
	if want := []string{"gamma-echo", "hello", "there"}; !slices.Equal(argv, want) {
		t.Fatalf("argv %q, want %q", argv, want)
	}
	target, err := filepath.EvalSymlinks(filepath.Join(im.Dir, argv[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(target, filepath.Join(imageDir, "pulled")+string(filepath.Separator)) || !strings.HasSuffix(target, filepath.Join("rootfs", "usr", "local", "bin", "gamma-echo")) {
		t.Errorf("entrypoint links to %s, want the unpacked /usr/local/bin/gamma-echo under %s", target, imageDir)
	}
	if got, err := im.Command(spec.BinaryPath()); err != nil || got != filepath.Join(im.Dir, "gamma-echo") {
		t.Errorf("Command(%s) = %q, %v", spec.BinaryPath(), got, err)
	}
	run := func(im Image) string {
		t.Helper()
		argv := im.Argv(nil, []string{"hello", "there"})
		out, err := exec.Command(filepath.Join(im.Dir, argv[0]), argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("run %s: %v: %s", argv[0], err, out)
		}
		return string(out)
	}
	if got, want := run(im), "gamma-echo [hello there]\n"; got != want {
		t.Errorf("the pulled binary printed %q, want %q", got, want)
	}

	// An unknown tag is not resolvable, and says why.
	if _, err := tab.Resolve(spec.RefIn(u.Host, "nope")); !errors.Is(err, ErrImageNotResolvable) || !strings.Contains(err.Error(), "pull") {
		t.Errorf("unknown tag: err = %v, want %v from the pull", err, ErrImageNotResolvable)
	}

	// The registry gone, the image last pulled for the reference is used.
	srv.Close()
	again, err := tab.Resolve(ref)
	if err != nil {
		t.Fatalf("resolve from the cache: %v", err)
	}
	if got := run(again); got != "gamma-echo [hello there]\n" {
		t.Errorf("the cached binary printed %q", got)
	}
}

// tarOf returns a tar stream of the entries.
func tarOf(t *testing.T, entries ...tar.Header) io.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(h.Name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestUntarStaysInside(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	err := untar(tarOf(t,
		tar.Header{Typeflag: tar.TypeReg, Name: "../../escape", Mode: 0o755},
		tar.Header{Typeflag: tar.TypeReg, Name: "usr/bin/tool", Mode: 0o4755},
		tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: outside},
		tar.Header{Typeflag: tar.TypeReg, Name: "link/pwned", Mode: 0o644},
	), dir)
	if err == nil {
		t.Error("untar wrote through a symlink pointing outside")
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file was written outside the directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "escape")); err != nil || string(b) != "../../escape" {
		t.Errorf("../../escape not kept inside as escape: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "usr", "bin", "tool"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("usr/bin/tool mode %v, want 0755 without setuid", fi.Mode())
	}
}

func TestResolveIn(t *testing.T) {
	rootfs := t.TempDir()
	mk := func(rel string) {
		p := filepath.Join(rootfs, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		if err := os.Symlink(target, filepath.Join(rootfs, rel)); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/bin/busybox")
	link("usr/bin", "bin")                               // relative, merged /usr
	link("/usr/bin/busybox", "usr/bin/sh")               // absolute: inside the image
	link("../../../../../usr/bin/busybox", "usr/bin/up") // climbs outside on purpose
	// Every path leads to the one binary, and never out of rootfs.
	want := filepath.Join(rootfs, "usr/bin/busybox")
	for _, in := range []string{"/bin/sh", "bin/busybox", "/usr/bin/up", "/../../usr/bin/sh"} {
		if got, err := resolveIn(rootfs, in); err != nil || got != want {
			t.Errorf("resolveIn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	link("loop", "loop")
	if _, err := resolveIn(rootfs, "/loop"); err == nil {
		t.Error("a symlink loop resolved")
	}
}
