package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/internal/syncbuf"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

// Test names: everything the test node makes carries a gpt- prefix and its
// own address range, so it can run beside a live local cluster.
const (
	testNode     = "gpt-node"
	testBridge   = "gpt-br0"
	testNetns    = "gpt-"
	testVeth     = "gptv"
	testCIDR     = "198.18.250.0/24"
	testBridgeIP = "198.18.250.1"
)

func TestNodeRunsPods(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it creates network namespaces, veths and cgroups (run with sudo)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("this test needs /bin/busybox: apt-get install busybox-static")
	}
	if _, err := repo.Bin("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	rc := testenv.Start(t)
	client := kubernetes.NewForConfigOrDie(rc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	stateDir := t.TempDir()
	cgRel := fmt.Sprintf("gpt-%d/pods", os.Getpid())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		NodeName:       testNode,
		RestConfig:     rc,
		StateDir:       filepath.Join(stateDir, "node"),
		PodCIDR:        netip.MustParsePrefix(testCIDR),
		Bridge:         testBridge,
		BridgeIP:       netip.MustParseAddr(testBridgeIP),
		BinDir:         repo.BinDir(),
		Self:           self,
		KubeletAddrs:   []string{testBridgeIP + ":10250"},
		RestartBackoff: time.Second,
		NetnsPrefix:    testNetns,
		VethPrefix:     testVeth,
		CgroupParent:   cgRel,
		// envtest's apiserver tries Hostname addresses first.
		OmitHostnameAddress: true,
		Logger:              slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	nodeCtx, stopNode := context.WithCancel(context.Background())
	nodeDone := make(chan error, 1)
	start := time.Now()
	go func() { nodeDone <- Run(nodeCtx, cfg) }()
	cgParent, err := CgroupParent(cgRel)
	if err != nil {
		t.Fatal(err)
	}
	var restartedStop context.CancelFunc
	t.Cleanup(func() {
		stopNode := stopNode
		if restartedStop != nil {
			stopNode = restartedStop
		}
		stopNode()
		select {
		case err := <-nodeDone:
			if err != nil {
				t.Errorf("node run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("node did not stop within 30s")
		}
		if err := Cleanup(CleanupConfig{StateDir: cfg.StateDir, Bridge: testBridge, NetnsPrefix: testNetns, VethPrefix: testVeth, CgroupParent: cgRel}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertNothingLeft(t, cgParent, cfg.StateDir)
		// Idempotent: a second cleanup finds nothing and does not fail.
		if err := Cleanup(CleanupConfig{StateDir: cfg.StateDir, Bridge: testBridge, NetnsPrefix: testNetns, VethPrefix: testVeth, CgroupParent: cgRel}); err != nil {
			t.Errorf("second cleanup: %v", err)
		}
	})

	// The Node registers Ready with its address, pod CIDR and cgroup parent.
	node := waitFor(ctx, t, "node Ready", func() (*corev1.Node, bool) {
		n, err := client.CoreV1().Nodes().Get(ctx, testNode, metav1.GetOptions{})
		if err != nil {
			return nil, false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && n.Annotations[cgroup2.ParentAnnotation] != "" {
				return n, true
			}
		}
		return nil, false
	})
	t.Logf("node Ready %v after start", time.Since(start).Round(time.Millisecond))
	if got := node.Annotations[cgroup2.ParentAnnotation]; got != cgParent {
		t.Errorf("cgroup-parent annotation = %q, want %q", got, cgParent)
	}
	if node.Spec.PodCIDR != testCIDR {
		t.Errorf("podCIDR = %q, want %s", node.Spec.PodCIDR, testCIDR)
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != testBridgeIP {
		t.Errorf("addresses = %v, want InternalIP %s", node.Status.Addresses, testBridgeIP)
	}
	if _, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, testNode, metav1.GetOptions{}); err != nil {
		t.Errorf("node lease: %v", err)
	}

	ns := "default"
	mustCreate(t, func() error {
		_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "test-ca"}}, metav1.CreateOptions{})
		return err
	})
	svc, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A busybox nc server that reports SIGTERM into a hostPath volume.
	markDir := t.TempDir()
	grace := int64(10)
	noToken := false
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:                      testNode,
			AutomountServiceAccountToken:  &noToken,
			TerminationGracePeriodSeconds: &grace,
			Volumes:                       []corev1.Volume{{Name: "mark", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: markDir}}}},
			Containers: []corev1.Container{{
				Name:  "web",
				Image: "busybox:1.36",
				Command: []string{"sh", "-c", `trap 'echo TERM > /mark/term; exit 0' TERM
while true; do echo -e "HTTP/1.1 200 OK\n\nhello from $POD_NAME" | nc -l -p 8080; done`},
				Env:            []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				VolumeMounts:   []corev1.VolumeMount{{Name: "mark", MountPath: "/mark"}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
			}},
		},
	}
	createPod(ctx, t, client, ns, web)
	webPod := waitPodReady(ctx, t, client, ns, "web")
	webIP := netip.MustParseAddr(webPod.Status.PodIP)
	if !netip.MustParsePrefix(testCIDR).Contains(webIP) || webIP == netip.MustParseAddr(testBridgeIP) {
		t.Fatalf("web pod IP %s not a pod address in %s", webIP, testCIDR)
	}
	if webPod.Status.HostIP != testBridgeIP {
		t.Errorf("hostIP = %q, want %s", webPod.Status.HostIP, testBridgeIP)
	}
	// The pod's processes live in cgroup pod<uid> under the parent.
	procs, err := os.ReadFile(filepath.Join(cgParent, "pod"+string(webPod.UID), "cgroup.procs"))
	if err != nil || len(bytes.TrimSpace(procs)) == 0 {
		t.Errorf("pod cgroup has no processes: %q, %v", procs, err)
	}

	// A client pod reaches the server over the bridge, resolves the Service
	// by name, and sees its projected service account files.
	client1 := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client"},
		Spec: corev1.PodSpec{
			NodeName:           testNode,
			ServiceAccountName: "default",
			Volumes: []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}}},
			Containers: []corev1.Container{{
				Name:  "client",
				Image: "docker.io/library/busybox",
				Args: []string{"sh", "-c", `echo "ns=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace) ca=$(cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt) token=$(wc -c < /var/run/secrets/kubernetes.io/serviceaccount/token)"
echo "my ip $POD_IP host $(hostname)"
while true; do wget -q -O- http://$WEB_IP:8080/; nslookup web.default.svc.cluster.local; sleep 1; done`},
				Env: []corev1.EnvVar{
					{Name: "WEB_IP", Value: webIP.String()},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
			}},
		},
	}
	createPod(ctx, t, client, ns, client1)
	clientPod := waitPodReady(ctx, t, client, ns, "client")
	logs := waitFor(ctx, t, "client logs show traffic and DNS", func() (string, bool) {
		b, err := client.CoreV1().Pods(ns).GetLogs("client", &corev1.PodLogOptions{}).DoRaw(ctx)
		s := string(b)
		return s, err == nil && strings.Contains(s, "hello from web") && strings.Contains(s, svc.Spec.ClusterIP)
	})
	for _, want := range []string{"ns=default", "ca=test-ca", "my ip " + clientPod.Status.PodIP + " host client"} {
		if !strings.Contains(logs, want) {
			t.Errorf("client log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "token=0") || !strings.Contains(logs, "token=") {
		t.Errorf("client log shows no service account token:\n%s", logs)
	}

	// kubectl exec through the apiserver: env, resolv.conf and exit code.
	kubeSvc, err := client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, code := execIn(ctx, t, rc, client, ns, "client", "sh", "-c", "echo $POD_IP; echo k8s=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; cat /etc/resolv.conf; exit 7")
	if out0, code0 := execIn(ctx, t, rc, client, ns, "client", "echo", "hello"); code0 != 0 || !strings.Contains(out0, "hello") {
		t.Errorf("exec echo hello = %q, %d", out0, code0)
	}
	if code != 7 {
		t.Errorf("exec exit code = %d, want 7", code)
	}
	for _, want := range []string{clientPod.Status.PodIP, "k8s=" + kubeSvc.Spec.ClusterIP + ":443", "nameserver " + testBridgeIP, "search default.svc.cluster.local svc.cluster.local cluster.local", "ndots:5"} {
		if !strings.Contains(out, want) {
			t.Errorf("exec output lacks %q:\n%s", want, out)
		}
	}

	// kubectl exec -it: a TTY inside the pod.
	ttyOut := streamTTY(ctx, t, rc, client, ns, "client", "exec", &corev1.PodExecOptions{Command: []string{"sh"}, Stdin: true, Stdout: true, TTY: true}, "tty; exit\n")
	if !strings.Contains(ttyOut, "/dev/pts/") {
		t.Errorf("exec -it: tty printed %q, want /dev/pts/N", ttyOut)
	}

	// kubectl run -it: attach to a TTY container's shell.
	createPod(ctx, t, client, ns, plainPod("shell", corev1.Container{Name: "shell", Image: "busybox", Stdin: true, TTY: true}))
	waitPodReady(ctx, t, client, ns, "shell")
	attachOut := streamTTY(ctx, t, rc, client, ns, "shell", "attach", &corev1.PodAttachOptions{Stdin: true, Stdout: true, TTY: true}, "echo attached-$((40+2))\n")
	if !strings.Contains(attachOut, "attached-42") {
		t.Errorf("attach output %q lacks attached-42", attachOut)
	}

	// A crashing container is restarted with a growing restartCount and
	// its previous log is kept.
	createPod(ctx, t, client, ns, plainPod("crasher", corev1.Container{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo run; exit 3"}}))
	crashed := waitFor(ctx, t, "crasher restarted twice", func() (*corev1.Pod, bool) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "crasher", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) != 1 {
			return nil, false
		}
		return p, p.Status.ContainerStatuses[0].RestartCount >= 2
	})
	if term := crashed.Status.ContainerStatuses[0].LastTerminationState.Terminated; term == nil || term.ExitCode != 3 {
		t.Errorf("lastState = %+v, want terminated with exit code 3", crashed.Status.ContainerStatuses[0].LastTerminationState)
	}
	prev, err := client.CoreV1().Pods(ns).GetLogs("crasher", &corev1.PodLogOptions{Previous: true}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(prev), "run") {
		t.Errorf("previous logs = %q, %v; want \"run\"", prev, err)
	}

	// An image that maps to nothing waits with a reason, never runs.
	createPod(ctx, t, client, ns, plainPod("unknown", corev1.Container{Name: "c", Image: "nginx:1.25"}))
	waitFor(ctx, t, "unknown image waiting", func() (bool, bool) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "unknown", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) != 1 {
			return false, false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return true, w != nil && w.Reason == ReasonImageNotResolvable && strings.Contains(w.Message, "busybox*") && p.Status.Phase == corev1.PodPending
	})

	// Deleting the server terminates it gracefully: SIGTERM reaches the
	// shell, the pod goes away and so do its namespace and cgroup.
	webNetns, _ := podNames(string(webPod.UID), testNetns, testVeth)
	if _, err := os.Stat(filepath.Join(netnsDir, webNetns)); err != nil {
		t.Errorf("web netns: %v", err)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	waitFor(ctx, t, "web pod deleted", func() (bool, bool) {
		_, err := client.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		return true, apierrors.IsNotFound(err)
	})
	// The shell exits on SIGTERM at once, so the object goes well before
	// the 10 s grace period ends.
	if d := time.Since(deleted); d > 8*time.Second {
		t.Errorf("web pod object gone after %v, want well under its 10s grace period", d)
	}
	waitFor(ctx, t, "web sandbox removed", func() (bool, bool) {
		_, errNs := os.Stat(filepath.Join(netnsDir, webNetns))
		_, errCg := os.Stat(filepath.Join(cgParent, "pod"+string(webPod.UID)))
		return true, os.IsNotExist(errNs) && os.IsNotExist(errCg)
	})
	if b, err := os.ReadFile(filepath.Join(markDir, "term")); err != nil || strings.TrimSpace(string(b)) != "TERM" {
		t.Errorf("SIGTERM mark = %q, %v; want TERM (graceful termination)", b, err)
	}

	// A restarted node clears the old processes and runs the pods again,
	// each with the address it had.
	stopNode()
	if err := <-nodeDone; err != nil {
		t.Fatalf("node run: %v", err)
	}
	nodeCtx2, stop2 := context.WithCancel(context.Background())
	restartedStop = stop2
	go func() { nodeDone <- Run(nodeCtx2, cfg) }()
	waitFor(ctx, t, "client pod restarted by the new node", func() (string, bool) {
		select {
		case err := <-nodeDone:
			nodeDone <- err // for the cleanup
			t.Fatalf("restarted node exited: %v", err)
		default:
		}
		p, err := client.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
			return "", false
		}
		started := p.Status.ContainerStatuses[0].State.Running.StartedAt.Time
		return p.Status.PodIP, started.After(clientPod.Status.StartTime.Time.Add(time.Second)) && p.Status.PodIP == clientPod.Status.PodIP
	})
}

func assertNothingLeft(t *testing.T, cgParent, stateDir string) {
	t.Helper()
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), testNetns) {
				t.Errorf("netns %s left behind", e.Name())
			}
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if n := l.Attrs().Name; strings.HasPrefix(n, testVeth) || n == testBridge {
			t.Errorf("link %s left behind", n)
		}
	}
	if _, err := os.Stat(filepath.Dir(cgParent)); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left behind (%v)", filepath.Dir(cgParent), err)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state dir %s left behind", stateDir)
	}
}

func execIn(ctx context.Context, t *testing.T, rc *rest.Config, client kubernetes.Interface, ns, pod string, cmd ...string) (string, int) {
	t.Helper()
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncbuf.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	if err == nil {
		return out.String() + errOut.String(), 0
	}
	var code interface{ ExitStatus() int }
	if ok := asExit(err, &code); ok {
		return out.String() + errOut.String(), code.ExitStatus()
	}
	t.Fatalf("exec %v: %v (output %q)", cmd, err, out.String())
	return "", -1
}

// streamTTY sends input to an exec or attach TTY session and returns what
// came back within a few seconds.
func streamTTY(ctx context.Context, t *testing.T, rc *rest.Config, client kubernetes.Interface, ns, pod, sub string, opts runtime.Object, input string) string {
	t.Helper()
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource(sub).
		VersionedParams(opts, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(rc, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = pw.Write([]byte(input))
		<-sctx.Done()
		_ = pw.Close()
	}()
	var out syncbuf.Buffer
	_ = ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: pr, Stdout: &out, Tty: true}) // ends with the session or the timeout
	return out.String()
}

func asExit(err error, target *interface{ ExitStatus() int }) bool {
	if e, ok := err.(interface{ ExitStatus() int }); ok {
		*target = e
		return true
	}
	return false
}

// plainPod is a pod of container c on the test node, without a service
// account token.
func plainPod(name string, c corev1.Container) *corev1.Pod {
	noToken := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{NodeName: testNode, AutomountServiceAccountToken: &noToken, Containers: []corev1.Container{c}},
	}
}

// createPod creates pod in ns; the test stops if the API server refuses it.
func createPod(ctx context.Context, t *testing.T, client kubernetes.Interface, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitPodReady(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	return waitFor(ctx, t, "pod "+name+" Running and Ready", func() (*corev1.Pod, bool) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return nil, false
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p, true
			}
		}
		return nil, false
	})
}

func waitFor[T any](ctx context.Context, t *testing.T, what string, f func() (T, bool)) T {
	t.Helper()
	var last T
	for {
		v, ok := f()
		if ok {
			return v
		}
		last = v
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s (last: %+v)", what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func mustCreate(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
