package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/internal/faultcatalog"
	"github.com/gammaproof/gammaproof/internal/repo"
)

// faultPackages must never be in a release binary.
var faultPackages = []string{
	"github.com/gammaproof/gammaproof/impl/fault",
	"github.com/gammaproof/gammaproof/internal/faultcatalog",
}

// build builds gamma-controller as `make build` does (static, trimmed,
// stripped), with the given tags, and returns the binary's bytes.
func build(t *testing.T, tags string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "gamma-controller")
	args := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./cmd/gamma-controller")...)
	cmd.Dir = repo.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// deps lists the packages gamma-controller links with the given tags.
func deps(t *testing.T, tags string) string {
	t.Helper()
	args := []string{"list", "-deps"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./cmd/gamma-controller")...)
	cmd.Dir = repo.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return string(out)
}

// TestReleaseBinaryHasNoFaults builds the release binary as `make build`
// does and the fault-injecting one as hack/build-faults.sh does: the
// release one must link no fault package and carry no fault name or fault
// symbol (function names stay in the pclntab of a stripped Go binary); the
// fault build must carry them, so the check can fail.
func TestReleaseBinaryHasNoFaults(t *testing.T) {
	names := faultcatalog.Names()
	for _, tc := range []struct {
		tags   string
		faults bool
	}{
		{"", false},
		{"gammaproof_faults", true},
	} {
		t.Run("tags="+tc.tags, func(t *testing.T) {
			list := deps(t, tc.tags)
			bin := build(t, tc.tags)
			for _, p := range faultPackages {
				if linked := strings.Contains(list, p+"\n"); linked != tc.faults {
					t.Errorf("go list -deps: %s linked = %v, want %v", p, linked, tc.faults)
				}
				if has := bytes.Contains(bin, []byte(p+".")); has != tc.faults {
					t.Errorf("binary has symbols of %s = %v, want %v", p, has, tc.faults)
				}
			}
			for _, n := range names {
				if has := bytes.Contains(bin, []byte(n)); has != tc.faults {
					t.Errorf("binary contains fault name %q = %v, want %v", n, has, tc.faults)
				}
			}
		})
	}
}
