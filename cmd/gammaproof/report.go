package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

const reportUsage = `usage: gammaproof report [--results reports/latest/results.json] [--out dir]

Re-renders the upstream ConformanceReport YAML, junit.xml and report.html
from a run's results.json (by default into the same directory).`

// reportCmd re-renders the reports from a results.json.
func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	results := fs.String("results", filepath.Join("reports", "latest", report.ResultsFile), "results.json of a run")
	out := fs.String("out", "", "directory to write the reports to (default: the directory of --results)")
	fs.Usage = func() { fmt.Fprintln(os.Stderr, reportUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (run `gammaproof report --help`)", fs.Args())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := report.ReadResults(*results)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w (run `make e2e` first, or pass --results)", err)
		}
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(*results)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	written, err := report.Render(dir, r, nil)
	if err != nil {
		return err
	}
	t := r.Totals()
	fmt.Printf("%s %s: %d scenarios, %d passed, %d failed, %d inconclusive, %d errors, %d skipped\n",
		r.Run.Implementation.Name, r.Run.Implementation.Version, len(r.Scenarios),
		t[verdict.Pass], t[verdict.Fail], t[verdict.Inconclusive], t[verdict.Error], t[verdict.Skip])
	for _, p := range written {
		fmt.Println("wrote", p)
	}
	return nil
}
