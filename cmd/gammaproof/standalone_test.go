package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// buildStandalone builds gammaproof as `make build` does (static,
// -trimpath, so it remembers no source path) and copies it alone into an
// empty directory, which it returns with the binary's path.
func buildStandalone(t *testing.T) (dir, bin string) {
	t.Helper()
	built := filepath.Join(t.TempDir(), "gammaproof")
	build := exec.Command("go", "build", "-trimpath", "-o", built, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir = t.TempDir()
	bin = filepath.Join(dir, "gammaproof")
	src, err := os.Open(built)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// standaloneEnv is the environment minus everything that points at the
// checkout or bin/, with HOME, the state and the kubeconfig in dir.
func standaloneEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"GAMMAPROOF_ROOT", "GAMMAPROOF_BIN", "GAMMAPROOF_STATE", "HOME", "KUBECONFIG", "XDG_STATE_HOME", "PATH"}, k) {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+dir, "KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"), "PATH=/nonexistent")
}

// runResult is what a run of the gammaproof binary printed, and its exit
// code.
type runResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs bin with args in dir with environment env. Only a failure
// to run it at all stops the test; a non-zero exit is in the result.
func runBinary(t *testing.T, bin, dir string, env []string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run gammaproof %q: %v", args, err)
	}
	return runResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// TestStandaloneVerify: the binary alone, in an empty directory with no
// checkout above it and nothing on $PATH, knows every scenario of the
// checkout (built in); --scenarios DIR reads DIR instead; and a run
// without a cluster fails on the kubeconfig, not on a missing file of the
// checkout or bin/.
func TestStandaloneVerify(t *testing.T) {
	dir, bin := buildStandalone(t)
	run := func(t *testing.T, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		r := runBinary(t, bin, dir, standaloneEnv(dir), args...)
		return r.code, r.stdout, r.stderr
	}
	list := func(t *testing.T, args ...string) []string {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"verify", "--list", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("verify --list %q: exit %d, stderr %s", args, code, stderr)
		}
		var lines []scenarioLine
		if err := json.Unmarshal([]byte(stdout), &lines); err != nil {
			t.Fatalf("verify --list -o json: %v\n%s", err, stdout)
		}
		var names []string
		for _, l := range lines {
			if l.Profile == "" || len(l.Features) == 0 || l.Level == "" {
				t.Errorf("scenario %+v: profile, features or level missing", l)
			}
			names = append(names, l.Name)
		}
		return names
	}

	checkout := filepath.Join(repo.Root(), "scenarios")
	expects, err := filepath.Glob(filepath.Join(checkout, "*", "expect.yaml"))
	if err != nil || len(expects) == 0 {
		t.Fatalf("no scenarios in %s (%v)", checkout, err)
	}
	var want []string
	for _, p := range expects {
		want = append(want, filepath.Base(filepath.Dir(p)))
	}
	slices.Sort(want)

	t.Run("built-in", func(t *testing.T) {
		if got := list(t); !slices.Equal(got, want) {
			t.Errorf("verify --list in an empty directory lists %q, want the checkout's %q", got, want)
		}
		code, stdout, stderr := run(t, "verify", "--list", "--feature", "^mesh-basic$")
		if code != 0 || !strings.Contains(stdout, "mesh-basic") || !strings.Contains(stdout, "1 of "+strconv.Itoa(len(want))+" scenarios built into this program") {
			t.Errorf("verify --list --feature: exit %d, stdout %q, stderr %q; want mesh-basic alone, built in", code, stdout, stderr)
		}
	})
	t.Run("--scenarios DIR", func(t *testing.T) {
		own := filepath.Join(dir, "mine")
		if err := os.CopyFS(filepath.Join(own, "only-one"), os.DirFS(filepath.Join(checkout, "mesh-basic"))); err != nil {
			t.Fatal(err)
		}
		// Renamed, so the list shows which copy it read.
		expect := filepath.Join(own, "only-one", "expect.yaml")
		b, err := os.ReadFile(expect)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(expect, bytes.Replace(b, []byte("name: mesh-basic\n"), []byte("name: only-one\n"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := list(t, "--scenarios", own); !slices.Equal(got, []string{"only-one"}) {
			t.Errorf("verify --list --scenarios %s lists %q, want [only-one]", own, got)
		}
		code, _, stderr := run(t, "verify", "--list", "--scenarios", filepath.Join(dir, "absent"))
		if code != 1 || !strings.Contains(stderr, "absent") {
			t.Errorf("verify --list --scenarios absent: exit %d, stderr %q; want 1 naming the directory", code, stderr)
		}
	})
	t.Run("no cluster", func(t *testing.T) {
		for _, impl := range []string{"gammaproof", "existing"} {
			code, _, stderr := run(t, "verify", "--implementation="+impl, "--report-dir", filepath.Join(dir, "reports"))
			if code != 1 || !strings.Contains(stderr, "needs a kubeconfig") {
				t.Errorf("verify --implementation=%s without a cluster: exit %d, stderr %q; want 1 saying a kubeconfig is needed", impl, code, stderr)
			}
			for _, bad := range []string{"make build", "bin/", "scenarios/"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("verify --implementation=%s: stderr %q mentions %q: it looked for the checkout", impl, stderr, bad)
				}
			}
		}
	})
}
