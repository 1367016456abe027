package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootHoldsGoMod(t *testing.T) {
	if !isRoot(Root()) {
		t.Fatalf("Root() = %s has no go.mod of %s", Root(), modulePath)
	}
}

// TestRootFromTrimpathBinary builds a binary with -trimpath (as `make
// build` does) into a bin/ dir and checks it finds the checkout.
func TestRootFromTrimpathBinary(t *testing.T) {
	prog := "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/gammaproof/gammaproof/internal/repo\"\n)\n\nfunc main() { fmt.Print(repo.Root()) }\n"
	cmdDir := filepath.Join(Root(), "internal", "repo", "testdata", "rootprobe")
	if err := os.MkdirAll(cmdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(Root(), "internal", "repo", "testdata")) })
	if err := os.WriteFile(filepath.Join(cmdDir, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(Root(), "bin", "rootprobe-test")
	t.Cleanup(func() { os.Remove(bin) })
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./internal/repo/testdata/rootprobe")
	build.Dir = Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	run := exec.Command(bin)
	run.Dir = t.TempDir() // not inside the checkout
	run.Env = append(os.Environ(), "GAMMAPROOF_ROOT=")
	out, err := run.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != Root() {
		t.Fatalf("trimpath binary found root %q, want %q", got, Root())
	}
}
