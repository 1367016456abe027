package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/impl/deploy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/localcluster/cluster"
	"github.com/gammaproof/gammaproof/suite/image"
)

func init() {
	commands["install"] = command{"install gammaproof on a cluster (--grant-policy spec|strict)", installCmd}
	commands["uninstall"] = command{"remove gammaproof from a cluster", uninstallCmd}
	commands["report"] = command{"render the reports (YAML, JUnit, HTML) from a results.json", reportCmd}
	commands["images"] = command{"build OCI image tarballs of our binaries for kind", imagesCmd}
}

func installCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster (default $KUBECONFIG, else the local cluster's)")
	policy := fs.String("grant-policy", "spec", "ReferenceGrant policy: spec (GEP-1294: no grants needed) or strict")
	dryRun := fs.Bool("dry-run", false, "validate the manifests on the server (server-side dry run), change nothing")
	print := fs.Bool("print", false, "print the manifests instead of applying them")
	waitReady := fs.Bool("wait", false, "wait until the controller and the node agents are ready")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long --wait waits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	manifests, err := deploy.Manifests(*policy)
	if err != nil {
		return err
	}
	if *print {
		_, err := os.Stdout.Write(manifests)
		return err
	}
	objs, err := kubeapply.Decode(manifests)
	if err != nil {
		return fmt.Errorf("decode manifests: %w", err)
	}
	cfgPath := kubeconfigPath(*kubeconfig)
	rc, err := clientcmd.BuildConfigFromFlags("", cfgPath)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w (start the local cluster with `make cluster-up` or pass --kubeconfig)", cfgPath, err)
	}
	a, err := kubeapply.New(rc)
	if err != nil {
		return err
	}
	if *dryRun {
		// Namespaced objects can only be dry-run in a namespace that exists.
		if err := a.Apply(ctx, objs[:1], false); err != nil {
			return err
		}
		if err := a.Apply(ctx, objs[1:], true); err != nil {
			return err
		}
		fmt.Printf("install: %d objects pass server-side dry run\n", len(objs))
		return nil
	}
	if err := a.Apply(ctx, objs, false); err != nil {
		return err
	}
	fmt.Printf("install: applied %d objects (grant policy %s)\n", len(objs), *policy)
	if !*waitReady {
		return nil
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	start := time.Now()
	if err := waitRollout(ctx, cs, *timeout); err != nil {
		return err
	}
	fmt.Printf("install: gammaproof ready in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// waitRollout waits until every Deployment and DaemonSet of gammaproof has
// all its pods updated and ready.
func waitRollout(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		deps, err := cs.AppsV1().Deployments(deploy.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, d := range deps.Items {
			if !deploymentReady(&d) {
				last = fmt.Sprintf("deployment %s: %d/%d ready", d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas))
				return false, nil
			}
		}
		dss, err := cs.AppsV1().DaemonSets(deploy.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, d := range dss.Items {
			if !daemonSetReady(&d) {
				last = fmt.Sprintf("daemonset %s: %d/%d ready", d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled)
				return false, nil
			}
		}
		return len(deps.Items)+len(dss.Items) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for gammaproof to be ready: %s (see `kubectl -n %s get pods`)", last, deploy.Namespace)
	}
	return nil
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

func uninstallCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	manifests, err := deploy.Manifests("spec")
	if err != nil {
		return err
	}
	objs, err := kubeapply.Decode(manifests)
	if err != nil {
		return fmt.Errorf("decode manifests: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath(*kubeconfig))
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	a, err := kubeapply.New(rc)
	if err != nil {
		return err
	}
	if err := a.Delete(ctx, objs); err != nil {
		return err
	}
	fmt.Printf("uninstall: deleted %d objects\n", len(objs))
	return nil
}

func imagesCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	out := fs.String("out", repo.BinDir()+"/images", "directory for the image tarballs")
	bin := fs.String("bin", repo.BinDir(), "directory of our static binaries (`make build`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	paths, err := image.WriteAll(image.Ours, *bin, *out)
	if err != nil {
		return err
	}
	for i, p := range paths {
		fmt.Printf("images: %s -> %s\n", image.Ours[i].Ref(), p)
	}
	return nil
}

// kubeconfigPath returns explicit, else the local cluster's kubeconfig.
func kubeconfigPath(explicit string) string {
	if explicit != "" {
		return explicit
	}
	return cluster.New(cluster.Options{StateDir: cluster.DefaultStateDir()}).Kubeconfig()
}
