// Package repo finds the repository checkout and the binaries built into it.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrMissingBinary is returned by [Bin] when a binary has not been built.
var ErrMissingBinary = errors.New("binary not built")

// Root returns the top of the repository checkout: the directory holding
// the go.mod of module github.com/gammaproof/gammaproof. It is, in order:
// $GAMMAPROOF_ROOT; the checkout this source file was compiled from (tests,
// `go run`); the parent of the running binary's directory (bin/<binary>,
// built with -trimpath); the nearest parent of the working directory with
// our go.mod. Failing all, the working directory.
func Root() string {
	if d := os.Getenv("GAMMAPROOF_ROOT"); d != "" {
		return d
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if d := filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")); isRoot(d) {
			return d
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if d := filepath.Dir(filepath.Dir(exe)); isRoot(d) {
				return d
			}
		}
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if isRoot(d) {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

// isRoot reports whether dir holds our module's go.mod.
func isRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && strings.HasPrefix(string(b), "module "+modulePath+"\n")
}

const modulePath = "github.com/gammaproof/gammaproof"

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
