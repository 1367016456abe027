package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths lists every command of the tree, e.g. "cluster up", "" for
// the root.
func commandPaths() []string {
	var ran bool
	var paths []string
	var walk func(c *cobra.Command, prefix []string)
	walk = func(c *cobra.Command, prefix []string) {
		paths = append(paths, strings.Join(prefix, " "))
		for _, sub := range c.Commands() {
			if !sub.Hidden {
				walk(sub, append(append([]string{}, prefix...), sub.Name()))
			}
		}
	}
	walk(newRootCommand(&ran), nil)
	return append(paths, "help")
}

// TestConventions runs the built binary: for every command, --help prints
// its help on stdout and exits 0; an unknown flag or an unexpected argument
// prints one line on stderr saying what to do and exits 2; a missing
// argument or subcommand exits 2 the same way.
func TestConventions(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gammaproof")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	env := append(os.Environ(), "GAMMAPROOF_STATE="+filepath.Join(work, "state"), "KUBECONFIG="+filepath.Join(work, "no-kubeconfig"))
	gammaproof := func(t *testing.T, args ...string) runResult {
		t.Helper()
		return runBinary(t, bin, work, env, args...)
	}
	wantUsage := func(t *testing.T, r runResult) {
		t.Helper()
		if r.code != 2 {
			t.Errorf("exit %d, want 2 (stderr %q)", r.code, r.stderr)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "gammaproof: ") || !strings.Contains(r.stderr, "--help`") {
			t.Errorf("stderr %q, want one line `gammaproof: ...` saying to run --help", r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout %q, want nothing", r.stdout)
		}
	}

	type tc struct {
		name  string
		args  []string
		check func(*testing.T, runResult)
	}
	var cases []tc
	for _, p := range commandPaths() {
		words := strings.Fields(p)
		cases = append(cases,
			tc{"help/" + p, append(append([]string{}, words...), "--help"), func(t *testing.T, r runResult) {
				if r.code != 0 || r.stderr != "" {
					t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
				}
				if !strings.Contains(r.stdout, "Usage:\n  gammaproof "+strings.TrimSpace(strings.Join(words, " "))) {
					t.Errorf("stdout %q is not the help of %q", r.stdout, p)
				}
			}},
			tc{"unknown flag/" + p, append(append([]string{}, words...), "--no-such-flag"), func(t *testing.T, r runResult) {
				wantUsage(t, r)
				if !strings.Contains(r.stderr, "unknown flag: --no-such-flag") {
					t.Errorf("stderr %q does not name the flag", r.stderr)
				}
			}},
			tc{"unexpected argument/" + p, append(append([]string{}, words...), "no-such-arg"), wantUsage},
		)
	}
	for _, args := range [][]string{
		{},                        // the command
		{"cluster"},               // the subcommand
		{"images", "push"},        // --registry
		{"completion"},            // the shell
		{"install", "--timeout"},  // a flag's value
		{"cluster", "-o", "json"}, // status's flag, given to its parent
	} {
		cases = append(cases, tc{"missing/" + strings.Join(args, " "), args, wantUsage})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, gammaproof(t, c.args...)) })
	}
}

// TestShortTexts: every command's one-line description (cobra's Short, in
// the command lists of --help) starts lower-case, like the flag texts,
// and ends without a full stop.
func TestShortTexts(t *testing.T) {
	var ran bool
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		s := c.Short
		switch {
		case s == "":
			t.Errorf("%s: no Short text", c.CommandPath())
		case strings.ToLower(s[:1]) != s[:1]:
			t.Errorf("%s: Short %q starts upper-case", c.CommandPath(), s)
		case strings.HasSuffix(s, "."):
			t.Errorf("%s: Short %q ends with a full stop", c.CommandPath(), s)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(&ran))
}
