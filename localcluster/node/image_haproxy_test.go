package node

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeExecutable writes an executable script at dir/name and returns its path.
func fakeExecutable(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImageHAProxy: every reference to HAProxy's official image resolves to
// the host's haproxy with the official image's entrypoint and config path;
// a missing haproxy is an ErrImageBinaryMissing naming apt-get install
// haproxy, never a panic.
func TestImageHAProxy(t *testing.T) {
	host := fakeExecutable(t, t.TempDir(), "haproxy", 0o755)
	gone := filepath.Join(t.TempDir(), "haproxy") // found, then removed
	tests := []struct {
		name     string
		ref      string
		find     func() (string, error)
		args     []string // container args; nil: the image's CMD
		wantArgv []string
		wantErr  error
		wantText string // in the error
	}{
		{name: "tag", ref: "haproxy:3.0", find: func() (string, error) { return host, nil },
			wantArgv: []string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}},
		{name: "docker hub with library", ref: "docker.io/library/haproxy:2.6", find: func() (string, error) { return host, nil },
			wantArgv: []string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}},
		{name: "digest", ref: "haproxy@sha256:0123", find: func() (string, error) { return host, nil },
			wantArgv: []string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}},
		{name: "options as args follow the entrypoint", ref: "haproxy:lts", find: func() (string, error) { return host, nil },
			args: []string{"-f", "/cfg/haproxy.cfg"}, wantArgv: []string{"haproxy", "-W", "-db", "-f", "/cfg/haproxy.cfg"}},
		{name: "not installed", ref: "haproxy:3.0", find: findIn(t.TempDir()),
			wantErr: ErrImageBinaryMissing, wantText: "apt-get install haproxy"},
		{name: "lookup fails otherwise", ref: "haproxy:3.0", find: func() (string, error) { return "", errors.New("permission denied") },
			wantErr: ErrImageBinaryMissing, wantText: "apt-get install haproxy"},
		{name: "binary gone after lookup", ref: "haproxy", find: func() (string, error) { return gone, nil },
			wantErr: ErrImageBinaryMissing, wantText: "apt-get install haproxy"},
		{name: "other haproxy repositories are not ours", ref: "haproxytech/haproxy-debian:3.0", find: func() (string, error) { return host, nil },
			wantErr: ErrImageNotResolvable, wantText: "haproxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, _ := testTable(t)
			tab.findHAProxy = tt.find
			im, err := tab.Resolve(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("Resolve(%q) = %v, want %v naming %q", tt.ref, err, tt.wantErr, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if im.Name != "haproxy" {
				t.Errorf("name = %q, want haproxy", im.Name)
			}
			if got := im.Argv(nil, tt.args); !slices.Equal(got, tt.wantArgv) {
				t.Errorf("Argv(nil, %q) = %q, want %q", tt.args, got, tt.wantArgv)
			}
			if got, err := os.Readlink(filepath.Join(im.Dir, "haproxy")); err != nil || got != host {
				t.Errorf("link haproxy -> %q (%v), want %s", got, err, host)
			}
			if im.PATH() != im.Dir {
				t.Errorf("PATH = %q, want only the image's own haproxy", im.PATH())
			}
			if cmd, err := im.Command("/usr/local/sbin/haproxy"); err != nil || cmd != filepath.Join(im.Dir, "haproxy") {
				t.Errorf("Command(/usr/local/sbin/haproxy) = %q, %v; want the image's haproxy", cmd, err)
			}
		})
	}
}

// findIn returns a lookup of haproxy in dirs only.
func findIn(dirs ...string) func() (string, error) {
	return func() (string, error) { return findExecutable("haproxy", dirs) }
}

func TestFindExecutable(t *testing.T) {
	empty, notExec, isDir, good, later := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	fakeExecutable(t, notExec, "haproxy", 0o644)
	if err := os.Mkdir(filepath.Join(isDir, "haproxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := fakeExecutable(t, good, "haproxy", 0o755)
	fakeExecutable(t, later, "haproxy", 0o755)
	tests := []struct {
		name string
		dirs []string
		want string // "" for an error
	}{
		{"first executable wins", []string{empty, notExec, isDir, good, later}, want},
		{"none", []string{empty, notExec, isDir}, ""},
		{"no dirs", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findExecutable("haproxy", tt.dirs)
			if tt.want == "" {
				if !errors.Is(err, ErrImageBinaryMissing) || !strings.Contains(err.Error(), "apt-get install haproxy") {
					t.Errorf("findExecutable = %q, %v; want ErrImageBinaryMissing naming apt-get install haproxy", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("findExecutable = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFindHAProxyOnPATH: the haproxy on PATH comes first, as an absolute path.
func TestFindHAProxyOnPATH(t *testing.T) {
	dir := t.TempDir()
	want := fakeExecutable(t, dir, "haproxy", 0o755)
	t.Setenv("PATH", dir)
	if got, err := findHAProxy(); err != nil || got != want {
		t.Errorf("findHAProxy with PATH=%s = %q, %v; want %q", dir, got, err, want)
	}
}
