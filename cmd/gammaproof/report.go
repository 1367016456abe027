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
	var results, out, upstreamVerdicts string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "render the reports (YAML, JUnit, HTML) from a results.json",
		Long: `Re-render the upstream ConformanceReport YAML, junit.xml and report.html
from a run's results.json (by default into the same directory).

--upstream-verdicts records upstream's verdicts from a conformance run of
the same cluster (hack/conformance.sh) beside ours in results.json and
the reports, and exits 1 if a verdict disagrees.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			verdicts, err := readUpstreamVerdicts(upstreamVerdicts)
			if err != nil {
				return err
			}
			return renderReport(c.Context(), c.OutOrStdout(), results, out, upstreamVerdicts, verdicts)
		},
	}
	cmd.Flags().StringVar(&results, "results", filepath.Join("reports", "latest", report.ResultsFile), "results.json of a run")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the reports to (default: the directory of --results)")
	cmd.Flags().StringVar(&upstreamVerdicts, "upstream-verdicts", "", upstreamVerdictsHelp)
	_ = cmd.MarkFlagFilename("results", "json")
	_ = cmd.MarkFlagFilename("upstream-verdicts", "json")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

// renderReport renders the reports of results into out (default: its
// directory), with upstream's verdicts (read from verdictsPath) beside
// ours when there are any.
func renderReport(ctx context.Context, w io.Writer, results, out, verdictsPath string, verdicts map[string]verdict.Verdict) error {
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
	var written []string
	var agreeErr error
	if verdicts != nil {
		written, agreeErr = attachUpstream(w, results, dir, verdictsPath, verdicts)
		var d *errDisagree
		if agreeErr != nil && !errors.As(agreeErr, &d) {
			return agreeErr
		}
		if r, err = report.ReadResults(filepath.Join(dir, report.ResultsFile)); err != nil {
			return err
		}
	} else if written, err = report.Render(dir, r, nil); err != nil {
		return err
	}
	t := r.Totals()
	fmt.Fprintf(w, "%s %s: %d scenarios, %d passed, %d failed, %d inconclusive, %d errors, %d skipped\n",
		r.Run.Implementation.Name, r.Run.Implementation.Version, len(r.Scenarios),
		t[verdict.Pass], t[verdict.Fail], t[verdict.Inconclusive], t[verdict.Error], t[verdict.Skip])
	for _, p := range written {
		fmt.Fprintln(w, "wrote", p)
	}
	return agreeErr
}
