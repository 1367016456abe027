package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: gammaproof <name> args...
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is the dispatch table. Commands owned by other files register
// themselves in an init() of their file (install.go: install, uninstall,
// report, images); "e2e" goes here or there when it lands.
var commands = map[string]command{
	"cluster": {"start, stop or inspect the local cluster (up | down | status)", clusterCmd},
}

func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stderr)
		if len(args) == 0 {
			return fmt.Errorf("missing command")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (run `gammaproof help`)", args[0])
	}
	setupLogging()
	return cmd.run(ctx, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gammaproof <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// setupLogging sends slog to stderr; $GAMMAPROOF_LOG=debug shows debug logs.
func setupLogging() {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("GAMMAPROOF_LOG"), "debug") {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}
