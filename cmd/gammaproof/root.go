package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is bad usage: an unknown command or flag, a missing or
// unexpected argument, a flag value out of range. main exits 2 on it.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a [usageError]; the message should say what to do.
func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// newRootCommand returns the gammaproof command tree. ran is set when a
// command's Run starts: an error before that (flags, arguments) is bad
// usage.
func newRootCommand(ran *bool) *cobra.Command {
	root := &cobra.Command{
		Use:   "gammaproof",
		Short: "run the local cluster, install gammaproof, verify a mesh and render its reports",
		Long: `gammaproof runs the local cluster, installs the gammaproof mesh on a cluster,
verifies a mesh (ours or any other) against the GAMMA scenarios and renders
the reports.

Set GAMMAPROOF_LOG=debug for debug logs on stderr.`,
		Args:          unknownCommand,
		RunE:          missingCommand,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpCommand(helpCommand())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (run `%s --help`)", err, c.CommandPath())
	})
	root.AddCommand(
		clusterCommand(),
		installCommand(),
		uninstallCommand(),
		imagesCommand(),
		reportCommand(),
		verifyCommand(),
		versionCommand(),
		completionCommand(),
	)
	markRuns(root, ran)
	return root
}

// helpCommand is `gammaproof help [command]`: the help of a command, on
// stdout; an unknown command is bad usage.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("unknown help topic %q (run `%s --help` to list the commands)", strings.Join(args, " "), c.Root().CommandPath())
			}
			return target.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// markRuns wraps the Run of cmd and of every command below it so that it
// sets *ran first.
func markRuns(cmd *cobra.Command, ran *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*ran = true
			return run(c, args)
		}
	}
	if run := cmd.Run; run != nil {
		cmd.Run = func(c *cobra.Command, args []string) {
			*ran = true
			run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markRuns(sub, ran)
	}
}

// unknownCommand is the root's argument check: any argument left is a
// command that does not exist.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := ""
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		hint = "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("unknown command %q%s (run `%s --help` to list the commands)", args[0], hint, c.CommandPath())
}

// missingCommand runs for the root without a command.
func missingCommand(c *cobra.Command, _ []string) error {
	return usageErrorf("missing command (run `%s --help` to list the commands)", c.CommandPath())
}

// parentOnly makes cmd, a command that only groups subcommands, fail with
// a usage error when called without one or with an unknown one.
func parentOnly(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return usageErrorf("unknown %s subcommand %q (run `%s --help`)", c.Name(), args[0], c.CommandPath())
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		var names []string
		for _, sub := range c.Commands() {
			names = append(names, sub.Name())
		}
		return usageErrorf("missing %s subcommand: %s (run `%s --help`)", c.Name(), strings.Join(names, ", "), c.CommandPath())
	}
	return cmd
}

// noArgs is cobra.NoArgs with a usage error that says what to do.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected arguments %q (run `%s --help`)", args, c.CommandPath())
	}
	return nil
}

// exitCode prints err, when there is one to print, as one line on stderr
// and returns the exit code: 0 success, 1 failure, 2 bad usage
// ([usageError]). A failure the command has already reported
// ([errScenariosFailed]) prints nothing.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, errScenariosFailed) {
		return 1
	}
	fmt.Fprintln(stderr, "gammaproof:", oneLine(err.Error()))
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// oneLine joins the lines of a message with "; ".
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// setupLogging sends slog to stderr; $GAMMAPROOF_LOG=debug shows debug logs.
func setupLogging(stderr io.Writer) {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("GAMMAPROOF_LOG"), "debug") {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
}
