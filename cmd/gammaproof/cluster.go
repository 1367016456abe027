package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gammaproof/gammaproof/localcluster/cluster"
)

// clusterCommand is `gammaproof cluster up|down|status`.
func clusterCommand() *cobra.Command {
	var stateDir string
	cmd := parentOnly(&cobra.Command{
		Use:   "cluster",
		Short: "start, stop or inspect the local cluster (up | down | status)",
		Long: `Start, stop or inspect the local cluster: a real Kubernetes control plane
and a node that runs each pod as processes in its own network namespace
(Linux, root, cgroup v2). Its binaries come from bin/ of the checkout
($GAMMAPROOF_BIN overrides; make kube and make build fill it).`,
	})
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", "", "directory holding the cluster's state (default: "+stateDirHelp+")")
	// cpOnly is --control-plane-only, a flag of up only: false for the
	// other subcommands.
	var cpOnly bool
	// onCluster is the RunE of a subcommand that acts on the cluster of
	// --state-dir.
	onCluster := func(act func(c *cobra.Command, cl *cluster.Cluster) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			dir := stateDir
			var err error
			if dir == "" {
				dir, err = defaultStateDir()
			} else {
				dir, err = absDir(dir)
			}
			if err != nil {
				return err
			}
			return act(c, cluster.New(cluster.Options{StateDir: dir, Progress: c.OutOrStdout(), ControlPlaneOnly: cpOnly}))
		}
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "start the local cluster (root, Linux, cgroup v2) and wait until its node is Ready",
		Args:  noArgs,
		RunE: onCluster(func(c *cobra.Command, cl *cluster.Cluster) error {
			return clusterUp(c.Context(), c.OutOrStdout(), cl)
		}),
	}
	up.Flags().BoolVar(&cpOnly, "control-plane-only", false, "start etcd and the control plane only: no node, no kube-proxy")

	down := &cobra.Command{
		Use:   "down",
		Short: "stop the local cluster and remove every process, namespace, link, cgroup, rule and file it made",
		Args:  noArgs,
		RunE: onCluster(func(c *cobra.Command, cl *cluster.Cluster) error {
			return cl.Down(c.Context())
		}),
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "show which components of the local cluster run and whether its node is Ready",
		Long: `Show which components of the local cluster run and whether its node is
Ready. Exits 1 when the cluster is not running (after printing the status).`,
		Args: noArgs,
	}
	output := addOutputFlag(status)
	status.PreRunE = func(c *cobra.Command, _ []string) error { return checkOutput(c, *output) }
	status.RunE = onCluster(func(c *cobra.Command, cl *cluster.Cluster) error {
		return clusterStatus(c.Context(), c.OutOrStdout(), cl, *output)
	})

	cmd.AddCommand(up, down, status)
	return cmd
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

// clusterState is `cluster status -o json|yaml`.
type clusterState struct {
	StateDir   string           `json:"stateDir"`
	Kubeconfig string           `json:"kubeconfig"`
	Running    bool             `json:"running"`
	Components []componentState `json:"components"`
	Node       nodeState        `json:"node"`
}

type componentState struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
}

type nodeState struct {
	Name string `json:"name"`
	// Ready is the Node's Ready condition: "True", "False", "Unknown", or
	// "" when the Node could not be read (Error says why).
	Ready string `json:"ready"`
	Error string `json:"error,omitempty"`
}

func newClusterState(c *cluster.Cluster, st *cluster.Status) clusterState {
	s := clusterState{
		StateDir:   c.Layout().Dir,
		Kubeconfig: c.Kubeconfig(),
		Running:    st.Running(),
		Components: []componentState{},
		Node:       nodeState{Name: cluster.NodeName, Ready: st.NodeReady},
	}
	for _, comp := range st.Components {
		s.Components = append(s.Components, componentState{Name: comp.Name, Running: comp.PID != 0, PID: comp.PID})
	}
	if st.NodeErr != nil {
		s.Node.Error = st.NodeErr.Error()
	}
	return s
}

func clusterStatus(ctx context.Context, w io.Writer, c *cluster.Cluster, output string) error {
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if output != outputText {
		if err := printStructured(w, output, newClusterState(c, st)); err != nil {
			return err
		}
	} else {
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
	}
	if !st.Running() {
		return errors.New("cluster is not running (start it with `gammaproof cluster up`)")
	}
	return nil
}
