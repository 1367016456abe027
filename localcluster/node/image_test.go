package node

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRepository(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"busybox", "busybox"},
		{"busybox:1.36", "busybox"},
		{"docker.io/library/busybox:1.36", "busybox"},
		{"docker.io/busybox@sha256:abc", "busybox"},
		{"nicolaka/netshoot", "nicolaka/netshoot"},
		{"docker.io/nicolaka/netshoot:v0.13", "nicolaka/netshoot"},
		{"ghcr.io/gammaproof/echo:dev", "gammaproof/echo"},
		{"localhost:5000/gammaproof/client:1", "gammaproof/client"},
		{"gammaproof/node@sha256:0123", "gammaproof/node"},
		{"GammaProof/Echo", "gammaproof/echo"},
	}
	for _, tt := range tests {
		if got := Repository(tt.ref); got != tt.want {
			t.Errorf("Repository(%q) = %q, want %q", tt.ref, got, tt.want)
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
	bb, err := tab.Resolve("busybox")
	if err != nil {
		t.Fatal(err)
	}
	echo, err := tab.Resolve("gammaproof/echo")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := tab.Resolve("nicolaka/netshoot")
	if err != nil {
		t.Fatal(err)
	}
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
