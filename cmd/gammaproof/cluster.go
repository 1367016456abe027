package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gammaproof/gammaproof/localcluster/cluster"
)

const clusterUsage = `usage: gammaproof cluster <up|down|status> [--state-dir DIR]

  up      start the local cluster (root, Linux, cgroup v2) and wait until its node is Ready
  down    stop it and remove every process, namespace, link, cgroup, rule and file it made
  status  show which components run and whether the node is Ready`

func clusterCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, clusterUsage)
		return errors.New("missing cluster subcommand (up, down or status)")
	}
	sub := args[0]
	fs := flag.NewFlagSet("cluster "+sub, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	stateDir := fs.String("state-dir", cluster.DefaultStateDir(), "directory holding the cluster's state ($GAMMAPROOF_STATE)")
	cpOnly := false
	if sub == "up" {
		fs.BoolVar(&cpOnly, "control-plane-only", false, "start etcd and the control plane only: no node, no kube-proxy")
	}
	fs.Usage = func() { fmt.Fprintln(os.Stderr, clusterUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (run `gammaproof cluster up --help`)", fs.Args())
	}
	dir, err := filepath.Abs(*stateDir)
	if err != nil {
		return fmt.Errorf("resolve state dir: %w", err)
	}
	c := cluster.New(cluster.Options{StateDir: dir, Progress: os.Stdout, ControlPlaneOnly: cpOnly})
	switch sub {
	case "up":
		return clusterUp(ctx, os.Stdout, c)
	case "down":
		return c.Down(ctx)
	case "status":
		return clusterStatus(ctx, os.Stdout, c)
	}
	fmt.Fprintln(os.Stderr, clusterUsage)
	return fmt.Errorf("unknown cluster subcommand %q (up, down or status)", sub)
}

func clusterUp(ctx context.Context, w io.Writer, c *cluster.Cluster) error {
	res, err := c.Up(ctx)
	if err != nil {
		return err
	}
	if res.AlreadyRunning {
		fmt.Fprintln(w, "cluster is already running")
	}
	kc := res.Kubeconfig
	fmt.Fprintf(w, "kubeconfig: %s\n\nuse it with:\n  export KUBECONFIG=%s\n  bin/kubectl --kubeconfig %s get nodes\n", kc, kc, kc)
	return nil
}

func clusterStatus(ctx context.Context, w io.Writer, c *cluster.Cluster) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	for _, comp := range st.Components {
		state := "not running"
		if comp.PID != 0 {
			state = fmt.Sprintf("running (pid %d)", comp.PID)
		}
		fmt.Fprintf(w, "%-24s %s\n", comp.Name, state)
	}
	node := "Ready=" + st.NodeReady
	if st.NodeErr != nil {
		node = "unknown: " + st.NodeErr.Error()
	}
	fmt.Fprintf(w, "%-24s %s\n", "node "+cluster.NodeName, node)
	if !st.Running() {
		return errors.New("cluster is not running (start it with `gammaproof cluster up`)")
	}
	return nil
}
