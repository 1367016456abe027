package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CrossCompile builds the binary of every spec from ./cmd/<Binary> of the
// module checkout at root into outDir, for linux/arch, static (CGO_ENABLED=0,
// -trimpath, stripped), with the go command in PATH. It is what `make build`
// does, for another architecture.
func CrossCompile(ctx context.Context, root, outDir, arch string, specs []Spec) error {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("cross-compile for linux/%s: %s is not a module checkout: %w", arch, root, err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("cross-compile for linux/%s: %w (install Go, or pass the binaries' directories)", arch, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("cross-compile for linux/%s: %w", arch, err)
	}
	args := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", outDir + string(filepath.Separator)}
	for _, s := range specs {
		args = append(args, "./cmd/"+s.Binary)
	}
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cross-compile for linux/%s: go %s: %w: %s", arch, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
