package cluster

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gammaproof/gammaproof/internal/repo"
)

// binaryFor returns the path of a component's binary in binDir, with what to
// run when it is missing.
func binaryFor(binDir, name string) (string, error) {
	p := filepath.Join(binDir, name)
	fi, err := os.Stat(p)
	if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	how := "run `make kube`"
	if name == LocalNode {
		how = "run `make build` (or `go build -o bin/gamma-localnode ./cmd/gamma-localnode`)"
	}
	return "", fmt.Errorf("find %s in %s: %w: %s", name, binDir, repo.ErrMissingBinary, how)
}
