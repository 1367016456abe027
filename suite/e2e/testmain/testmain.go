// Package testmain runs test functions in a program that is not a test
// binary: it gives e2e-framework the *testing.T it needs, so a command can
// run the same features as `go test`.
package testmain

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"
)

// mu serialises runs: Run swaps os.Stdout for the run.
var mu sync.Mutex

// Run runs f as the test named name, through [testing.MainStart] as the
// binary `go test` builds would, and reports whether it passed. What the
// testing package prints (failures and their logs) goes to out instead of
// standard output, without its closing PASS or FAIL line: for the run
// os.Stdout is a pipe to out, so nothing else may rely on os.Stdout
// meanwhile. The testing package's flags (-test.*) keep their defaults: no
// timeout, no verbose output.
func Run(out io.Writer, name string, f func(*testing.T)) bool {
	mu.Lock()
	defer mu.Unlock()
	m := testing.MainStart(deps{}, []testing.InternalTest{{Name: name, F: f}}, nil, nil, nil)
	// M.Run parses the command line unless it was parsed: it is not ours.
	if !flag.Parsed() {
		_ = flag.CommandLine.Parse(nil)
	}
	r, w, err := os.Pipe()
	if err != nil {
		// No pipe: the testing package writes to standard output.
		return m.Run() == 0
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			if l := sc.Text(); l != "PASS" && l != "FAIL" {
				fmt.Fprintln(out, l)
			}
		}
		_, _ = io.Copy(io.Discard, r) // a line too long for the scanner
		r.Close()
	}()
	stdout := os.Stdout
	os.Stdout = w
	defer func() {
		os.Stdout = stdout
		w.Close()
		<-copied
	}()
	return m.Run() == 0
}

// errNotSupported is what the profiling, coverage and fuzzing hooks return.
var errNotSupported = errors.New("not supported outside go test")

// corpusEntry spells the testing package's fuzz corpus entry type.
type corpusEntry = struct {
	Parent     string
	Path       string
	Data       []byte
	Values     []any
	Generation int
	IsSeed     bool
}

// deps implements the testing package's testDeps for tests only: names
// match regular expressions; profiles, test logs, coverage and fuzzing are
// not supported.
type deps struct{}

func (deps) ImportPath() string { return "github.com/gammaproof/gammaproof/suite/e2e" }
func (deps) ModulePath() string { return "github.com/gammaproof/gammaproof" }

var (
	matchMu  sync.Mutex
	matchPat string
	matchRe  *regexp.Regexp
)

func (deps) MatchString(pat, str string) (bool, error) {
	matchMu.Lock()
	defer matchMu.Unlock()
	if matchRe == nil || matchPat != pat {
		re, err := regexp.Compile(pat)
		if err != nil {
			return false, fmt.Errorf("compile %q: %w", pat, err)
		}
		matchPat, matchRe = pat, re
	}
	return matchRe.MatchString(str), nil
}

func (deps) SetPanicOnExit0(bool)                        {}
func (deps) StartCPUProfile(io.Writer) error             { return errNotSupported }
func (deps) StopCPUProfile()                             {}
func (deps) StartTestLog(io.Writer)                      {}
func (deps) StopTestLog() error                          { return nil }
func (deps) WriteProfileTo(string, io.Writer, int) error { return errNotSupported }
func (deps) CoordinateFuzzing(time.Duration, int64, time.Duration, int64, int, []corpusEntry, []reflect.Type, string, string) error {
	return errNotSupported
}
func (deps) RunFuzzWorker(func(corpusEntry) error) error { return errNotSupported }
func (deps) ReadCorpus(string, []reflect.Type) ([]corpusEntry, error) {
	return nil, errNotSupported
}
func (deps) CheckCorpus([]any, []reflect.Type) error { return nil }
func (deps) ResetCoverage()                          {}
func (deps) SnapshotCoverage()                       {}
func (deps) InitRuntimeCoverage() (string, func(string, string) (string, error), func() float64) {
	return "", nil, nil
}
