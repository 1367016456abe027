package node

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRepositoryAndTag: the repository and the tag of each reference.
func TestRepositoryAndTag(t *testing.T) {
	for ref, want := range map[string]struct{ repo, tag string }{
		"busybox":                                  {"busybox", ""},
		"busybox:1.36":                             {"busybox", "1.36"},
		"docker.io/library/busybox:1.36":           {"busybox", "1.36"},
		"docker.io/busybox@sha256:abc":             {"busybox", ""},
		"nicolaka/netshoot":                        {"nicolaka/netshoot", ""},
		"docker.io/nicolaka/netshoot:v0.13":        {"nicolaka/netshoot", "v0.13"},
		"ghcr.io/gammaproof/echo:dev":              {"gammaproof/echo", "dev"},
		"localhost:5000/gammaproof/client:1":       {"gammaproof/client", "1"},
		"gammaproof/node@sha256:0123":              {"gammaproof/node", ""},
		"GammaProof/Echo":                          {"gammaproof/echo", ""},
		"gammaproof/controller:faults":             {"gammaproof/controller", "faults"},
		"localhost:5000/gammaproof/controller:dev": {"gammaproof/controller", "dev"},
		"localhost:5000/gammaproof/controller":     {"gammaproof/controller", ""},
		"gammaproof/controller@sha256:ff":          {"gammaproof/controller", ""},
		"gammaproof/controller:faults@sha256:ff":   {"gammaproof/controller", "faults"},
	} {
		if got := Repository(ref); got != want.repo {
			t.Errorf("Repository(%q) = %q, want %q", ref, got, want.repo)
		}
		if got := Tag(ref); got != want.tag {
			t.Errorf("Tag(%q) = %q, want %q", ref, got, want.tag)
		}
	}
}

func testTable(t *testing.T) (*ImageTable, string) {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []string{"gamma-echo", "gamma-client", "gamma-controller"} { // gamma-node missing on purpose
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tab := NewImageTable(bin, filepath.Join(t.TempDir(), "images"), "/bin/busybox")
	tab.applets = func() ([]string, error) { return []string{"sh", "nc", "sleep", "echo"}, nil }
	return tab, bin
}

// mustResolve resolves ref in tab, failing the test if it does not.
func mustResolve(t *testing.T, tab *ImageTable, ref string) Image {
	t.Helper()
	im, err := tab.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestFaultsTagResolvesToFaultBuild: gammaproof/*:faults runs the binary
// of hack/build-faults.sh, in a tool-set dir of its own; every other tag
// keeps the release binary.
func TestFaultsTagResolvesToFaultBuild(t *testing.T) {
	tab, bin := testTable(t)
	if _, err := tab.Resolve("gammaproof/controller:faults"); !errors.Is(err, ErrImageBinaryMissing) || !strings.Contains(err.Error(), "hack/build-faults.sh") {
		t.Fatalf("without the fault build: %v, want %v naming hack/build-faults.sh", err, ErrImageBinaryMissing)
	}
	if err := os.MkdirAll(filepath.Join(bin, "faults"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "faults", "gamma-controller"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	faulty := mustResolve(t, tab, "gammaproof/controller:faults")
	release := mustResolve(t, tab, "gammaproof/controller:dev")
	for _, tc := range []struct {
		im   Image
		want string
	}{
		{faulty, filepath.Join(bin, "faults", "gamma-controller")},
		{release, filepath.Join(bin, "gamma-controller")},
	} {
		got, err := os.Readlink(filepath.Join(tc.im.Dir, "gamma-controller"))
		if err != nil || got != tc.want {
			t.Errorf("%s: gamma-controller -> %q (%v), want %q", tc.im.Dir, got, err, tc.want)
		}
	}
	if faulty.Dir == release.Dir {
		t.Errorf("both tags share the tool-set dir %s", faulty.Dir)
	}
	if _, err := tab.Resolve("gammaproof/node:faults"); !errors.Is(err, ErrImageBinaryMissing) {
		t.Errorf("gammaproof/node:faults without bin/faults/gamma-node: %v, want %v", err, ErrImageBinaryMissing)
	}
}

func TestImageTableResolve(t *testing.T) {
	tab, bin := testTable(t)
	tests := []struct {
		ref       string
		wantName  string
		wantArgv  []string // for no command/args
		wantLink  string   // a file the tool-set dir must have
		wantHost  bool
		wantError error
	}{
		{ref: "gammaproof/echo:v1", wantName: "gammaproof/echo", wantArgv: []string{"gamma-echo"}, wantLink: "gamma-echo"},
		{ref: "docker.io/gammaproof/client", wantName: "gammaproof/client", wantArgv: []string{"gamma-client"}, wantLink: "gamma-client"},
		{ref: "gammaproof/controller@sha256:ff", wantName: "gammaproof/controller", wantArgv: []string{"gamma-controller"}, wantLink: "gamma-controller"},
		{ref: "busybox:1.36", wantName: "busybox", wantArgv: []string{"sh"}, wantLink: "nc"},
		{ref: "docker.io/library/busybox", wantName: "busybox", wantArgv: []string{"sh"}, wantLink: "sleep"},
		{ref: "nicolaka/netshoot:latest", wantName: "nicolaka/netshoot", wantArgv: []string{"gamma-client"}, wantLink: "gamma-client", wantHost: true},
		{ref: "gammaproof/node:v1", wantError: ErrImageBinaryMissing},
		{ref: "nginx:1.25", wantError: ErrImageNotResolvable},
		{ref: "registry.k8s.io/pause:3.9", wantError: ErrImageNotResolvable},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			im, err := tab.Resolve(tt.ref)
			if tt.wantError != nil {
				if !errors.Is(err, tt.wantError) {
					t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantError)
				}
				if errors.Is(err, ErrImageNotResolvable) && !strings.Contains(err.Error(), "busybox*") {
					t.Errorf("error %q does not list the available images", err)
				}
				if errors.Is(err, ErrImageBinaryMissing) && !strings.Contains(err.Error(), "make build") {
					t.Errorf("error %q does not say to run make build", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if im.Name != tt.wantName {
				t.Errorf("name = %q, want %q", im.Name, tt.wantName)
			}
			if got := im.Argv(nil, nil); !slices.Equal(got, tt.wantArgv) {
				t.Errorf("default argv = %q, want %q", got, tt.wantArgv)
			}
			target, err := os.Readlink(filepath.Join(im.Dir, tt.wantLink))
			if err != nil {
				t.Fatalf("tool-set link %s: %v", tt.wantLink, err)
			}
			if !strings.HasPrefix(target, bin) && target != "/bin/busybox" {
				t.Errorf("link %s -> %s, want into %s or /bin/busybox", tt.wantLink, target, bin)
			}
			if hasHost := strings.Contains(im.PATH(), "/usr/bin"); hasHost != tt.wantHost {
				t.Errorf("PATH %q: host tools = %v, want %v", im.PATH(), hasHost, tt.wantHost)
			}
		})
	}
}

func TestImageArgvAndCommand(t *testing.T) {
	tab, _ := testTable(t)
	bb := mustResolve(t, tab, "busybox")
	echo := mustResolve(t, tab, "gammaproof/echo")
	ns := mustResolve(t, tab, "nicolaka/netshoot")
	argv := []struct {
		name          string
		im            Image
		command, args []string
		want          []string
	}{
		{"busybox args only", bb, nil, []string{"sleep", "infinity"}, []string{"sleep", "infinity"}},
		{"busybox command", bb, []string{"sh", "-c"}, []string{"echo hi"}, []string{"sh", "-c", "echo hi"}},
		{"echo args follow entrypoint", echo, nil, []string{"--port=8080"}, []string{"gamma-echo", "--port=8080"}},
		{"echo command replaces", echo, []string{"gamma-echo", "-v"}, nil, []string{"gamma-echo", "-v"}},
		{"netshoot kubectl run -- bash", ns, nil, []string{"bash"}, []string{"bash"}},
	}
	for _, tt := range argv {
		if got := tt.im.Argv(tt.command, tt.args); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Argv = %q, want %q", tt.name, got, tt.want)
		}
	}
	cmds := []struct {
		name    string
		im      Image
		arg0    string
		want    string
		wantErr bool
	}{
		{"bare name", bb, "nc", "nc", false},
		{"/bin/sh becomes busybox sh", bb, "/bin/sh", filepath.Join(bb.Dir, "sh"), false},
		{"busybox has no bash", bb, "/bin/bash", "", true},
		{"netshoot keeps host path", ns, "/bin/bash", "/bin/bash", false},
		{"echo absolute own binary", echo, "/usr/local/bin/gamma-echo", filepath.Join(echo.Dir, "gamma-echo"), false},
	}
	for _, tt := range cmds {
		got, err := tt.im.Command(tt.arg0)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: Command(%q) = %q, %v; want %q, error %v", tt.name, tt.arg0, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestImageEchoAdvanced(t *testing.T) {
	bin := t.TempDir()
	files := filepath.Join(bin, "istio-echo-files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"istio-echo-server", "istio-echo-client", "istio-echo-files/cert.crt"} { // cert.key comes later
		if err := os.WriteFile(filepath.Join(bin, f), []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tab := NewImageTable(bin, filepath.Join(t.TempDir(), "images"), "/bin/busybox")
	const ref = "registry.k8s.io/gateway-api/echo-advanced:v1.5.1"
	_, err := tab.Resolve(ref)
	if !errors.Is(err, ErrImageBinaryMissing) || !strings.Contains(err.Error(), "cert.key") || !strings.Contains(err.Error(), "hack/build-istio-echo.sh") {
		t.Fatalf("Resolve without cert.key: %v, want ErrImageBinaryMissing naming cert.key and hack/build-istio-echo.sh", err)
	}
	if err := os.WriteFile(filepath.Join(files, "cert.key"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	im := mustResolve(t, tab, ref)
	// The manifests give args only: the entrypoint server comes first.
	args := []string{"--port=8080", "--crt=/cert.crt", "--key=/cert.key"}
	if got, want := im.Argv(nil, args), append([]string{"server"}, args...); !slices.Equal(got, want) {
		t.Errorf("Argv = %q, want %q", got, want)
	}
	for name, want := range map[string]string{"server": "istio-echo-server", "client": "istio-echo-client"} {
		if got, err := os.Readlink(filepath.Join(im.Dir, name)); err != nil || got != filepath.Join(bin, want) {
			t.Errorf("link %s -> %q (%v), want %s", name, got, err, filepath.Join(bin, want))
		}
	}
	if im.PATH() != im.Dir {
		t.Errorf("PATH = %q, want only the image's own tools", im.PATH())
	}
	want := map[string]string{"/cert.crt": filepath.Join(files, "cert.crt"), "/cert.key": filepath.Join(files, "cert.key")}
	if !maps.Equal(im.Files, want) {
		t.Errorf("Files = %v, want %v", im.Files, want)
	}
	if !slices.Contains(tab.Available(), "gateway-api/echo-advanced") {
		t.Errorf("Available() = %v lacks gateway-api/echo-advanced", tab.Available())
	}
}

func TestCheckRootFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/cert.crt", true},
		{"/.hidden", true},
		{"cert.crt", false},
		{"/", false},
		{"/..", false},
		{"/etc/cert.crt", false},
		{"/cert.crt/", false},
	} {
		if err := checkRootFile(tc.path); (err == nil) != tc.ok {
			t.Errorf("checkRootFile(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}
