package local

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/internal/testenv"
	"github.com/gammaproof/gammaproof/localcluster/cluster"
)

var (
	//go:embed testdata/seed.yaml
	seedYAML []byte
	//go:embed testdata/lifecycle.yaml
	lifecycleYAML []byte
)

const testNS = "gpt-seed"

// TestAcceptance is the acceptance test through the provider: the
// seed's bookstore v1/v2 behind one Service answer a netshoot client,
// Deployments scale, crashed containers restart, deleted pods terminate
// gracefully, and Destroy leaves nothing behind.
func TestAcceptance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root; run it with sudo")
	}
	kubectl, err := repo.Bin("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	stateDir := filepath.Join(t.TempDir(), "state")
	p := NewCluster("gpt-acceptance").WithOpts(WithStateDir(stateDir), WithProgress(testenv.LogWriter(t))).(*Cluster)
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			if _, err := os.Stat(filepath.Join(stateDir, "logs")); err == nil {
				logs := filepath.Join(os.TempDir(), "gpt-acceptance-logs")
				if err := p.ExportLogs(context.Background(), logs); err != nil {
					t.Errorf("export logs: %v", err)
				}
				t.Logf("component logs in %s", logs)
			}
			if err := p.Destroy(context.Background()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	start := time.Now()
	kubeconfig, err := p.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create took %s", time.Since(start).Round(100*time.Millisecond))
	cs := kubernetes.NewForConfigOrDie(p.KubernetesRestConfig())
	node, err := cs.CoreV1().Nodes().Get(ctx, cluster.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cgroupParent := node.Annotations[cgroup2.ParentAnnotation]
	if cgroupParent == "" {
		t.Errorf("node has no %s annotation", cgroup2.ParentAnnotation)
	}

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig, "-n", testNS}, args...)...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
		}
		return out.String()
	}

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, cs, seedYAML)

	t.Run("seed answers from v1 and v2", func(t *testing.T) {
		for _, sel := range []string{"app=bookstore,version=v1", "app=bookstore,version=v2", "app=client"} {
			waitPods(ctx, t, cs, sel, 1)
		}
		t.Log("\n" + run("get", "pods", "-o", "wide"))
		// A pod is Ready a moment before kube-proxy has programmed its
		// endpoint: give the Service a few rounds of 20 requests to show
		// both versions, as a user re-running the loop would.
		var out string
		for round := 0; round < 5; round++ {
			out = run("exec", "client", "--", "sh", "-c", "for i in $(seq 1 20); do curl -s http://bookstore:8080; done")
			if strings.Contains(out, "Response from v1") && strings.Contains(out, "Response from v2") {
				break
			}
			time.Sleep(time.Second)
		}
		for _, want := range []string{"Response from v1", "Response from v2"} {
			if !strings.Contains(out, want) {
				t.Errorf("5 rounds of 20 requests to bookstore never got %q; the last round got:\n%s", want, out)
			}
		}
	})

	// The kind path is checked here statically: the manifests that install
	// gammaproof on any cluster pass the API server's validation.
	t.Run("deploy manifests pass server-side dry run", func(t *testing.T) {
		gp, err := repo.Bin("gammaproof")
		if err != nil {
			t.Fatal(err)
		}
		for _, policy := range []string{"spec", "strict"} {
			out, err := exec.CommandContext(ctx, gp, "install", "--dry-run", "--kubeconfig", kubeconfig, "--grant-policy", policy).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "pass server-side dry run") {
				t.Errorf("gammaproof install --dry-run --grant-policy %s: %v\n%s", policy, err, out)
			}
		}
	})

	t.Run("deployments scale", func(t *testing.T) {
		run("scale", "deployment/bookstore-v1", "--replicas=3")
		waitPods(ctx, t, cs, "app=bookstore,version=v1", 3)
		run("scale", "deployment/bookstore-v1", "--replicas=1")
		waitPods(ctx, t, cs, "app=bookstore,version=v1", 1)
		d, err := cs.AppsV1().Deployments(testNS).Get(ctx, "bookstore-v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas != 1 {
			t.Errorf("ready replicas after scaling back = %d, want 1", d.Status.ReadyReplicas)
		}
	})

	apply(ctx, t, cs, lifecycleYAML)

	t.Run("crashed container restarts", func(t *testing.T) {
		var last int32
		err := testenv.Poll(ctx, 90*time.Second, 250*time.Millisecond, func() error {
			pod, err := cs.CoreV1().Pods(testNS).Get(ctx, "crasher", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(pod.Status.ContainerStatuses) == 0 {
				return fmt.Errorf("no container status yet")
			}
			last = pod.Status.ContainerStatuses[0].RestartCount
			if last < 2 {
				return fmt.Errorf("restartCount = %d", last)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("crasher never restarted twice: %v", err)
		}
	})

	t.Run("deleted pod terminates gracefully", func(t *testing.T) {
		waitPodRunning(ctx, t, cs, "graceful")
		start := time.Now()
		if err := cs.CoreV1().Pods(testNS).Delete(ctx, "graceful", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Graceful: the container handles SIGTERM and exits 0 right away,
		// long before the grace period (30s) would end in SIGKILL.
		err := testenv.Poll(ctx, 15*time.Second, 250*time.Millisecond, func() error {
			pod, err := cs.CoreV1().Pods(testNS).Get(ctx, "graceful", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil // already removed: it terminated
			}
			if err != nil {
				return err
			}
			if len(pod.Status.ContainerStatuses) == 0 {
				return fmt.Errorf("no container status")
			}
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term == nil {
				return fmt.Errorf("container not terminated")
			}
			if term.ExitCode != 0 {
				return fmt.Errorf("container exit code %d (%s), want 0 from its SIGTERM trap", term.ExitCode, term.Reason)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("pod did not terminate gracefully %s after delete: %v", time.Since(start).Round(100*time.Millisecond), err)
		}
		t.Logf("container exited 0 on SIGTERM %s after delete", time.Since(start).Round(100*time.Millisecond))
		err = testenv.Poll(ctx, 50*time.Second, 250*time.Millisecond, func() error {
			_, err := cs.CoreV1().Pods(testNS).Get(ctx, "graceful", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("pod still there (get: %v)", err)
		})
		if err != nil {
			t.Fatalf("pod object not removed %s after delete: %v", time.Since(start).Round(100*time.Millisecond), err)
		}
		t.Logf("pod object gone %s after delete", time.Since(start).Round(100*time.Millisecond))
	})

	if t.Failed() {
		logs := filepath.Join(os.TempDir(), "gpt-acceptance-logs")
		if err := p.ExportLogs(ctx, logs); err != nil {
			t.Errorf("export logs: %v", err)
		}
		t.Logf("component logs in %s", logs)
	}
	destroyed = true
	if err := p.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, stateDir, cgroupParent)
}

// assertNothingLeft checks Destroy left no process, netns, link, cgroup,
// nftables table or state behind.
func assertNothingLeft(t *testing.T, stateDir, cgroupParent string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		if strings.Contains(string(b), stateDir) {
			t.Errorf("process %s left: %q", e.Name(), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "gp-") {
			t.Errorf("netns left: %s", line)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + cluster.Bridge); err == nil {
		t.Errorf("link %s left", cluster.Bridge)
	}
	if cgroupParent != "" {
		if _, err := os.Stat(cgroupParent); err == nil {
			t.Errorf("cgroup %s left", cgroupParent)
		}
	}
	for _, fam := range []string{"ip", "ip6"} {
		if err := exec.Command("nft", "list", "table", fam, "kube-proxy").Run(); err == nil {
			t.Errorf("nftables table %s kube-proxy left", fam)
		}
	}
	if _, err := os.Stat(stateDir); err == nil {
		t.Errorf("state dir %s left", stateDir)
	}
}

// apply creates every object of a multi-document manifest in testNS.
func apply(ctx context.Context, t *testing.T, cs kubernetes.Interface, manifest []byte) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("decode manifest: %v", err)
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw.Raw, nil, nil)
		if err != nil {
			t.Fatalf("decode object: %v", err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			_, err = cs.AppsV1().Deployments(testNS).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = cs.CoreV1().Services(testNS).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(testNS).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("apply: unsupported kind %T", obj)
		}
		if err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
}

// waitPods waits until exactly n pods match sel, all Running and Ready with
// a pod IP from 198.18.0.0/16, and none terminating.
func waitPods(ctx context.Context, t *testing.T, cs kubernetes.Interface, sel string, n int) {
	t.Helper()
	s, err := labels.Parse(sel)
	if err != nil {
		t.Fatal(err)
	}
	err = testenv.Poll(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		list, err := cs.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
		if err != nil {
			return err
		}
		if len(list.Items) != n {
			return fmt.Errorf("%d pods, want %d", len(list.Items), n)
		}
		for _, p := range list.Items {
			if err := runningWithPodIP(&p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pods %s: %v", sel, err)
	}
}

func waitPodRunning(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	err := testenv.Poll(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		p, err := cs.CoreV1().Pods(testNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return runningWithPodIP(p)
	})
	if err != nil {
		t.Fatalf("pod %s: %v", name, err)
	}
}

func runningWithPodIP(p *corev1.Pod) error {
	if p.DeletionTimestamp != nil {
		return fmt.Errorf("pod %s is terminating", p.Name)
	}
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("pod %s is %s (%s)", p.Name, p.Status.Phase, waitingReasons(p))
	}
	if !strings.HasPrefix(p.Status.PodIP, "198.18.") {
		return fmt.Errorf("pod %s has IP %q, want one in 198.18.0.0/16", p.Name, p.Status.PodIP)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			return fmt.Errorf("pod %s is not Ready", p.Name)
		}
	}
	return nil
}

func waitingReasons(p *corev1.Pod) string {
	var r []string
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			r = append(r, w.Reason+": "+w.Message)
		}
	}
	return strings.Join(r, "; ")
}
