package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// stateDirHelp says where the local cluster's state lives by default; it is
// part of the help of every command that uses it.
const stateDirHelp = `$GAMMAPROOF_STATE if set; else .gammaproof/local in the working directory when it is a gammaproof checkout or already has .gammaproof/; else $XDG_STATE_HOME/gammaproof/local when XDG_STATE_HOME is set; else .gammaproof/local in the working directory`

// defaultStateDir returns the local cluster's state directory as
// [stateDirHelp] says, absolute. From the root of a checkout it is
// .gammaproof/local, where the Makefile and README look.
func defaultStateDir() (string, error) {
	return stateDir(os.Getenv)
}

// stateDir is [defaultStateDir] with the environment read through getenv.
func stateDir(getenv func(string) string) (string, error) {
	if d := getenv("GAMMAPROOF_STATE"); d != "" {
		return absDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find state dir: %w", err)
	}
	local := filepath.Join(wd, ".gammaproof", "local")
	if isCheckout(wd) {
		return local, nil
	}
	if fi, err := os.Stat(filepath.Join(wd, ".gammaproof")); err == nil && fi.IsDir() {
		return local, nil
	}
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "gammaproof", "local"), nil
	}
	return local, nil
}

// absDir returns d as an absolute path.
func absDir(d string) (string, error) {
	a, err := filepath.Abs(d)
	if err != nil {
		return "", fmt.Errorf("resolve state dir %s: %w", d, err)
	}
	return a, nil
}

// isCheckout reports whether dir is the root of a gammaproof checkout.
func isCheckout(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && strings.HasPrefix(string(b), "module github.com/gammaproof/gammaproof\n")
}
