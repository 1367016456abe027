// Package repo finds the repository checkout and the binaries built into it.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// ErrMissingBinary is returned by [Bin] when a binary has not been built.
var ErrMissingBinary = errors.New("binary not built")

// Root returns the top of the repository checkout: the directory holding
// go.mod of module github.com/gammaproof/gammaproof. It is found from this
// source file, so it works from any package's tests.
func Root() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		wd, _ := os.Getwd()
		return wd
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BinDir returns where binaries live: $GAMMAPROOF_BIN if set, else
// <root>/bin, which `make build` and `make kube` fill.
func BinDir() string {
	if d := os.Getenv("GAMMAPROOF_BIN"); d != "" {
		return d
	}
	return filepath.Join(Root(), "bin")
}

// Bin returns the path of the named binary in [BinDir]. It wraps
// [ErrMissingBinary] with what to run when the binary is not there.
func Bin(name string) (string, error) {
	p := filepath.Join(BinDir(), name)
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("find %s in %s: %w (run `make build` for ours, `make kube` for Kubernetes and etcd)", name, BinDir(), ErrMissingBinary)
	}
	return p, nil
}
