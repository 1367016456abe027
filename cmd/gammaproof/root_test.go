package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runIn runs the command line in-process and returns the exit code,
// stdout and stderr.
func runIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "missing command"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"instal"}, 2, "did you mean install?"},
		{[]string{"cluster"}, 2, "missing cluster subcommand"},
		{[]string{"cluster", "sideways"}, 2, `unknown cluster subcommand "sideways"`},
		{[]string{"cluster", "up", "extra"}, 2, "unexpected arguments"},
		{[]string{"cluster", "down", "--no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"cluster", "status", "-o", "xml"}, 2, `unknown output format "xml"`},
		{[]string{"images", "push"}, 2, `required flag(s) "registry" not set`},
		{[]string{"images", "push", "--registry", "r", "--bin-dir-amd64", "d"}, 2, "give every --bin-dir-<arch>"},
		{[]string{"install", "--grant-policy", "weird"}, 2, `parse grant policy "weird"`},
		{[]string{"install", "--image-tag", "v1"}, 2, "--image-tag needs --image-registry"},
		{[]string{"completion", "tcsh"}, 2, "want one shell: bash, zsh or fish"},
		{[]string{"help", "bogus"}, 2, `unknown help topic "bogus"`},
		{[]string{"report", "--results", "/nonexistent/results.json"}, 1, "run `gammaproof verify` or `make e2e` first"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runIn(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
			if !strings.HasPrefix(stderr, "gammaproof: ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q is not one line `gammaproof: <error>`", stderr)
			}
			if tt.code == 2 && !strings.Contains(stderr, "--help`") {
				t.Errorf("usage error %q does not say to run --help", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name, stderr string
		err          error
		code         int
	}{
		{name: "success"},
		{name: "scenarios failed: already reported", err: fmt.Errorf("verify: %w", errScenariosFailed), code: 1},
		{name: "failure", err: errors.New("apply manifests: forbidden"), code: 1, stderr: "gammaproof: apply manifests: forbidden\n"},
		{name: "failure on many lines", err: errors.New("first\nsecond\n"), code: 1, stderr: "gammaproof: first; second\n"},
		{name: "usage", err: fmt.Errorf("parse: %w", usageErrorf("bad flag")), code: 2, stderr: "gammaproof: parse: bad flag\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if got := exitCode(&b, tt.err); got != tt.code {
				t.Errorf("exitCode = %d, want %d", got, tt.code)
			}
			if b.String() != tt.stderr {
				t.Errorf("stderr %q, want %q", b.String(), tt.stderr)
			}
		})
	}
}

func TestStateDir(t *testing.T) {
	checkout := t.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module github.com/gammaproof/gammaproof\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withState := t.TempDir()
	if err := os.Mkdir(filepath.Join(withState, ".gammaproof"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain, xdg := t.TempDir(), t.TempDir()
	tests := []struct {
		name string
		wd   string
		env  map[string]string
		want string
	}{
		{"GAMMAPROOF_STATE wins", checkout, map[string]string{"GAMMAPROOF_STATE": "/srv/gp", "XDG_STATE_HOME": xdg}, "/srv/gp"},
		{"checkout root: .gammaproof/local, as the Makefile and README use", checkout, map[string]string{"XDG_STATE_HOME": xdg}, filepath.Join(checkout, ".gammaproof", "local")},
		{"directory with .gammaproof", withState, map[string]string{"XDG_STATE_HOME": xdg}, filepath.Join(withState, ".gammaproof", "local")},
		{"elsewhere with XDG_STATE_HOME", plain, map[string]string{"XDG_STATE_HOME": xdg}, filepath.Join(xdg, "gammaproof", "local")},
		{"relative XDG_STATE_HOME is ignored", plain, map[string]string{"XDG_STATE_HOME": "state"}, filepath.Join(plain, ".gammaproof", "local")},
		{"elsewhere without XDG_STATE_HOME", plain, nil, filepath.Join(plain, ".gammaproof", "local")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.wd)
			got, err := stateDir(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("stateDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInstallPrintImageRegistry(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"install", "--print"}, []string{"image: gammaproof/controller:dev\n", "image: gammaproof/node:dev\n"}},
		{[]string{"install", "--print", "--image-registry", "127.0.0.1:5000"}, []string{"image: 127.0.0.1:5000/gammaproof/controller:dev\n", "image: 127.0.0.1:5000/gammaproof/node:dev\n"}},
		{[]string{"install", "--print", "--image-registry", "ghcr.io/me/", "--image-tag", "v1"}, []string{"image: ghcr.io/me/gammaproof/controller:v1\n", "image: ghcr.io/me/gammaproof/node:v1\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runIn(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("manifests have no %q", strings.TrimSpace(w))
				}
			}
			if n := strings.Count(stdout, "image: "); n != len(tt.want) {
				t.Errorf("%d images in the manifests, want %d", n, len(tt.want))
			}
		})
	}
}

func TestVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var gwapi string
	for _, l := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == gatewayAPIModule {
			gwapi = f[1]
		}
	}
	if gwapi == "" {
		t.Fatalf("go.mod requires no %s", gatewayAPIModule)
	}
	code, stdout, stderr := runIn(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("version -o json: %v: %q", err, stdout)
	}
	if v.Version != version || v.GoVersion != runtime.Version() || v.GatewayAPI != gwapi || v.Commit == "" {
		t.Errorf("version = %+v, want version %s, Go %s, Gateway API %s and a commit", v, version, runtime.Version(), gwapi)
	}
	code, stdout, _ = runIn(t, "version", "-o", "yaml")
	if code != 0 || !strings.Contains(stdout, "gatewayAPIVersion: "+gwapi+"\n") {
		t.Errorf("version -o yaml: exit %d, %q", code, stdout)
	}
	code, stdout, _ = runIn(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "gammaproof "+version+"\n") || !strings.Contains(stdout, "gateway-api "+gwapi+"\n") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}

func TestClusterStatusOutput(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runIn(t, "cluster", "status", "--state-dir", dir, "-o", "json")
	if runtime.GOOS != "linux" {
		if code != 1 || !strings.Contains(stderr, "needs Linux") {
			t.Fatalf("exit %d, stderr %q; want 1 and that it needs Linux", code, stderr)
		}
		return
	}
	if code != 1 || !strings.Contains(stderr, "cluster is not running") {
		t.Errorf("exit %d, stderr %q; want 1 and that the cluster is not running", code, stderr)
	}
	var st clusterState
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("cluster status -o json: %v: %q", err, stdout)
	}
	if st.Running || st.StateDir != dir || st.Kubeconfig != filepath.Join(dir, "kubeconfig") || len(st.Components) < 4 || st.Node.Error == "" {
		t.Errorf("status of a stopped cluster = %+v", st)
	}
	for _, c := range st.Components {
		if c.Running || c.PID != 0 {
			t.Errorf("component %+v runs in an empty state dir", c)
		}
	}
	_, stdout, _ = runIn(t, "cluster", "status", "--state-dir", dir, "-o", "yaml")
	if !strings.Contains(stdout, "running: false\n") || !strings.Contains(stdout, "- name: etcd\n") {
		t.Errorf("cluster status -o yaml: %q", stdout)
	}
}

func TestCompletion(t *testing.T) {
	tests := []struct{ shell, want string }{
		{"bash", "__start_gammaproof"},
		{"zsh", "#compdef gammaproof"},
		{"fish", "complete -c gammaproof"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			code, stdout, stderr := runIn(t, "completion", tt.shell)
			if code != 0 || !strings.Contains(stdout, tt.want) {
				t.Errorf("exit %d (stderr %q), script has no %q", code, stderr, tt.want)
			}
		})
	}
	// The scripts call back into the binary: subcommands complete.
	code, stdout, _ := runIn(t, "__complete", "cluster", "")
	for _, sub := range []string{"up\t", "down\t", "status\t"} {
		if code != 0 || !strings.Contains("\n"+stdout, "\n"+sub) {
			t.Errorf("__complete cluster: exit %d, %q lacks %q", code, stdout, sub)
		}
	}
}
