package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/impl/deploy"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/localcluster/cluster"
	"github.com/gammaproof/gammaproof/suite/image"
)

// installFlags are the flags of `gammaproof install`.
type installFlags struct {
	kubeconfig    string
	policy        string
	dryRun        bool
	print         bool
	wait          bool
	timeout       time.Duration
	imageRegistry string
	imageTag      string
}

// installCommand is `gammaproof install`.
func installCommand() *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "install",
		Short: "install gammaproof on a cluster (--grant-policy spec|strict)",
		Long: `Install gammaproof on a cluster: namespace gammaproof-system, the controller
Deployment and the node DaemonSet (the manifests of impl/deploy).

The cluster is --kubeconfig, else $KUBECONFIG, else the local cluster's
kubeconfig in its state directory (` + stateDirHelp + `).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := grantpolicy.Parse(f.policy); err != nil {
				return usageErrorf("--grant-policy: %v (run `%s --help`)", err, c.CommandPath())
			}
			if f.imageTag != "" && f.imageRegistry == "" {
				return usageErrorf("--image-tag needs --image-registry (run `%s --help`)", c.CommandPath())
			}
			return install(c.Context(), c.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else the local cluster's)")
	fl.StringVar(&f.policy, "grant-policy", string(grantpolicy.Spec), "ReferenceGrant policy: spec (GEP-1294: no grants needed) or strict")
	fl.BoolVar(&f.dryRun, "dry-run", false, "validate the manifests on the server (server-side dry run), change nothing")
	fl.BoolVar(&f.print, "print", false, "print the manifests instead of applying them")
	fl.BoolVar(&f.wait, "wait", false, "wait until the controller and the node agents are ready")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long --wait waits")
	fl.StringVar(&f.imageRegistry, "image-registry", "", "pull our images from this registry: REG/gammaproof/controller:TAG and REG/gammaproof/node:TAG (push them with `gammaproof images push`)")
	fl.StringVar(&f.imageTag, "image-tag", "", "tag of the images in --image-registry (default "+image.Tag+")")
	_ = cmd.RegisterFlagCompletionFunc("grant-policy", cobra.FixedCompletions([]string{string(grantpolicy.Spec), string(grantpolicy.Strict)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func install(ctx context.Context, w io.Writer, f installFlags) error {
	var opts []deploy.Option
	if f.imageRegistry != "" {
		tag := f.imageTag
		if tag == "" {
			tag = image.Tag
		}
		opts = append(opts, deploy.WithImageRegistry(f.imageRegistry, tag))
	}
	manifests, err := deploy.Manifests(f.policy, opts...)
	if err != nil {
		return err
	}
	if f.print {
		_, err := w.Write(manifests)
		return err
	}
	objs, err := kubeapply.Decode(manifests)
	if err != nil {
		return fmt.Errorf("decode manifests: %w", err)
	}
	rc, err := restConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	a, err := kubeapply.New(rc)
	if err != nil {
		return err
	}
	if f.dryRun {
		// Namespaced objects can only be dry-run in a namespace that exists.
		if err := a.Apply(ctx, objs[:1], false); err != nil {
			return err
		}
		if err := a.Apply(ctx, objs[1:], true); err != nil {
			return err
		}
		fmt.Fprintf(w, "install: %d objects pass server-side dry run\n", len(objs))
		return nil
	}
	if err := a.Apply(ctx, objs, false); err != nil {
		return err
	}
	fmt.Fprintf(w, "install: applied %d objects (grant policy %s)\n", len(objs), f.policy)
	if !f.wait {
		return nil
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	start := time.Now()
	if err := waitRollout(ctx, cs, f.timeout); err != nil {
		return err
	}
	fmt.Fprintf(w, "install: gammaproof ready in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// waitRollout waits until every Deployment and DaemonSet of gammaproof has
// all its pods updated and ready.
func waitRollout(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		if last, err = rolloutPending(ctx, cs); err != nil {
			last = err.Error()
			return false, nil
		}
		return last == "", nil
	})
	if err != nil {
		return fmt.Errorf("wait for gammaproof to be ready: %s (see `kubectl -n %s get pods`)", last, deploy.Namespace)
	}
	return nil
}

// rolloutPending says which Deployment or DaemonSet of gammaproof is not
// rolled out yet; "" when every one is, and there is at least one.
func rolloutPending(ctx context.Context, cs kubernetes.Interface) (string, error) {
	apps := cs.AppsV1()
	deps, err := apps.Deployments(deploy.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, d := range deps.Items {
		if !deploymentReady(&d) {
			return fmt.Sprintf("deployment %s: %d/%d ready", d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas)), nil
		}
	}
	dss, err := apps.DaemonSets(deploy.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, d := range dss.Items {
		if !daemonSetReady(&d) {
			return fmt.Sprintf("daemonset %s: %d/%d ready", d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled), nil
		}
	}
	if len(deps.Items)+len(dss.Items) == 0 {
		return "no deployment or daemonset yet", nil
	}
	return "", nil
}

// deploymentReady is `kubectl rollout status`'s test: the current spec is
// observed, every replica is updated and available, and no old replica is
// left (during a rollout the old pod is still ready while the new one is
// not).
func deploymentReady(d *appsv1.Deployment) bool {
	want := replicas(d.Spec.Replicas)
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want && st.Replicas == want &&
		st.ReadyReplicas == want && st.AvailableReplicas == want
}

// daemonSetReady: the current spec is observed and every scheduled pod is
// updated and ready.
func daemonSetReady(d *appsv1.DaemonSet) bool {
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.DesiredNumberScheduled > 0 &&
		st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberReady == st.DesiredNumberScheduled &&
		st.NumberAvailable == st.DesiredNumberScheduled
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// uninstallCommand is `gammaproof uninstall`.
func uninstallCommand() *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "remove gammaproof from a cluster",
		Long: `Remove gammaproof from a cluster: every object ` + "`gammaproof install`" + ` applies.

The cluster is --kubeconfig, else $KUBECONFIG, else the local cluster's
kubeconfig in its state directory (` + stateDirHelp + `).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return uninstall(c.Context(), c.OutOrStdout(), kubeconfig)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else the local cluster's)")
	return cmd
}

func uninstall(ctx context.Context, w io.Writer, kubeconfig string) error {
	manifests, err := deploy.Manifests(string(grantpolicy.Spec))
	if err != nil {
		return err
	}
	objs, err := kubeapply.Decode(manifests)
	if err != nil {
		return fmt.Errorf("decode manifests: %w", err)
	}
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return err
	}
	a, err := kubeapply.New(rc)
	if err != nil {
		return err
	}
	if err := a.Delete(ctx, objs); err != nil {
		return err
	}
	fmt.Fprintf(w, "uninstall: deleted %d objects\n", len(objs))
	return nil
}

// restConfig loads the kubeconfig explicit, else $KUBECONFIG, else the
// local cluster's.
func restConfig(explicit string) (*rest.Config, error) {
	path := explicit
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path == "" {
		dir, err := defaultStateDir()
		if err != nil {
			return nil, err
		}
		path = cluster.New(cluster.Options{StateDir: dir}).Kubeconfig()
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w (start the local cluster with `gammaproof cluster up` or pass --kubeconfig)", path, err)
	}
	return rc, nil
}
