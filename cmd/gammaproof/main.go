// Command gammaproof runs the local cluster, installs gammaproof on a
// cluster, verifies a mesh against the GAMMA scenarios and renders the
// reports. It exits 0 on success, 1 on a failure (one line on stderr, or a
// verify run whose scenarios did not all pass) and 2 on bad usage.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	setupLogging(stderr)
	var ran bool
	root := newRootCommand(&ran)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var u *usageError
	if err != nil && !ran && !errors.As(err, &u) {
		// cobra's own checks (required flags, argument counts) run
		// before the command: bad usage.
		err = usageErrorf("%v (run `%s --help`)", err, cmd.CommandPath())
	}
	return exitCode(stderr, err)
}
