package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// reportCommand is `gammaproof report`: re-renders the reports from a
// results.json.
func reportCommand() *cobra.Command {
	var results, out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "render the reports (YAML, JUnit, HTML) from a results.json",
		Long: `Re-render the upstream ConformanceReport YAML, junit.xml and report.html
from a run's results.json (by default into the same directory).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return renderReport(c.Context(), c.OutOrStdout(), results, out)
		},
	}
	cmd.Flags().StringVar(&results, "results", filepath.Join("reports", "latest", report.ResultsFile), "results.json of a run")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the reports to (default: the directory of --results)")
	_ = cmd.MarkFlagFilename("results", "json")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

func renderReport(ctx context.Context, w io.Writer, results, out string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := report.ReadResults(results)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w (run `gammaproof verify` or `make e2e` first, or pass --results)", err)
		}
		return err
	}
	dir := out
	if dir == "" {
		dir = filepath.Dir(results)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	written, err := report.Render(dir, r, nil)
	if err != nil {
		return err
	}
	t := r.Totals()
	fmt.Fprintf(w, "%s %s: %d scenarios, %d passed, %d failed, %d inconclusive, %d errors, %d skipped\n",
		r.Run.Implementation.Name, r.Run.Implementation.Version, len(r.Scenarios),
		t[verdict.Pass], t[verdict.Fail], t[verdict.Inconclusive], t[verdict.Error], t[verdict.Skip])
	for _, p := range written {
		fmt.Fprintln(w, "wrote", p)
	}
	return nil
}
