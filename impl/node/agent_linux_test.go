package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gammaproof/gammaproof/bpf/steer"
	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
	"github.com/gammaproof/gammaproof/internal/cgroup2"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

func TestMain(m *testing.M) { steertest.Main(m) }

// clientPods creates pod "client" on node in team-a and in team-b.
func clientPods(t *testing.T, c kubernetes.Interface, node string) (teamA, teamB *corev1.Pod) {
	t.Helper()
	return createPod(t, c, "team-a", "client", node), createPod(t, c, "team-b", "client", node)
}

func createPod(t *testing.T, c kubernetes.Interface, ns, name, node string) *corev1.Pod {
	t.Helper()
	ctx := t.Context()
	if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	pod, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: &no,
			Containers:                   []corev1.Container{{Name: "c", Image: "client"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// TestAgent runs the agent against a real apiserver and real programs: pods
// in cgroups named as kubelet names them are recognised, and connections
// from them to a VIP land on the listener for their namespace.
func TestAgent(t *testing.T) {
	steertest.RequireRoot(t)
	c := kubernetes.NewForConfigOrDie(testenv.Start(t))
	const node = "gpt-node"
	podA, podB := clientPods(t, c, node)
	podElsewhere := createPod(t, c, "team-b", "client-elsewhere", "other-node")

	dirA := "pod" + string(podA.UID)
	dirB := "kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(string(podB.UID), "-", "_") + ".slice"
	dirX := "pod" + string(podElsewhere.UID)
	parent := steertest.Cgroup(t, "node", dirA, dirA+"/ctr", "kubepods-besteffort.slice", dirB, dirB+"/cri-containerd-1.scope", dirX)

	if _, err := c.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: node, Annotations: map[string]string{cgroup2.ParentAnnotation: parent},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resolved, err := ResolveCgroupParent(t.Context(), c, node, "")
	if err != nil || resolved != parent {
		t.Fatalf("resolve cgroup parent from the node annotation: got %q, %v; want %q", resolved, err, parent)
	}

	a, stop := runAgent(t, Options{
		Client: c, NodeName: node, ProxyIP: netip.MustParseAddr("127.0.0.1"), CgroupParent: resolved,
		Resync: 200 * time.Millisecond,
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); attached(t, parent) != 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // Run attaches asynchronously.
	}
	if got := attached(t, parent); got != 2 {
		t.Fatalf("%d programs attached to %s, want connect4 and getpeername4", got, parent)
	}

	vip := netip.MustParseAddr("198.19.3.4")
	a.SetListeners([]Listener{
		{Name: "mesh~team-a~bookstore~8080", Port: 15001, VIPs: []netip.Addr{vip}, ServicePort: 8080},
		{Name: "mesh~team-a~bookstore~8080~from~team-b", Port: 15002, VIPs: []netip.Addr{vip}, ServicePort: 8080, CallerNamespace: "team-b"},
	})
	listen := []string{"127.0.0.1:15001", "127.0.0.1:15002"}
	tests := []struct {
		name, cgroup, want string
	}{
		{"producer listener for team-a", dirA + "/ctr", "127.0.0.1:15001"},
		{"consumer listener for team-b (systemd names)", dirB + "/cri-containerd-1.scope", "127.0.0.1:15002"},
		{"pod of another node gets the producer listener", dirX, "127.0.0.1:15001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res steertest.Result
			deadline := time.Now().Add(10 * time.Second)
			for {
				res = steertest.Run(t, filepath.Join(parent, tc.cgroup), steertest.Probe{Listen: listen, Dial: "198.19.3.4:8080"})
				if res.AcceptedOn == tc.want && res.Peer == "198.19.3.4:8080" {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("got %+v, want accepted on %s with peer 198.19.3.4:8080", res, tc.want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}

	t.Run("listeners removed stop steering", func(t *testing.T) {
		a.SetListeners(nil)
		deadline := time.Now().Add(10 * time.Second)
		for {
			res := steertest.Run(t, filepath.Join(parent, dirA), steertest.Probe{Listen: listen, Dial: "198.19.3.4:8080"})
			if strings.Contains(res.Err, "network is unreachable") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("got %+v, want the connect untouched (unreachable)", res)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("programs detached on exit", func(t *testing.T) {
		if err := stop(); err != nil {
			t.Fatalf("agent: %v", err)
		}
		if got := attached(t, parent); got != 0 {
			t.Fatalf("%d programs still attached to %s after the agent stopped", got, parent)
		}
	})
}

// attached counts the connect4 and getpeername4 programs attached to dir.
func attached(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for _, typ := range []ebpf.AttachType{ebpf.AttachCGroupInet4Connect, ebpf.AttachCgroupInet4GetPeername} {
		res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: typ})
		if err != nil {
			t.Fatal(err)
		}
		n += len(res.Programs)
	}
	return n
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := kubernetes.NewForConfigOrDie(&rest.Config{Host: "http://127.0.0.1:1"})
	ip := netip.MustParseAddr("198.18.0.1")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no client", Options{NodeName: "n", ProxyIP: ip, CgroupParent: "/x"}, "no Kubernetes client"},
		{"no node", Options{Client: c, ProxyIP: ip, CgroupParent: "/x"}, "no node name"},
		{"no proxy IP", Options{Client: c, NodeName: "n", CgroupParent: "/x"}, "set --proxy-ip or HOST_IP"},
		{"IPv6 proxy IP", Options{Client: c, NodeName: "n", ProxyIP: netip.MustParseAddr("fd00::1"), CgroupParent: "/x"}, "not an IPv4 address"},
		{"no cgroup parent", Options{Client: c, NodeName: "n", ProxyIP: ip}, "no cgroup parent"},
		{"DaemonSet without namespace", Options{Client: c, NodeName: "n", ProxyIP: ip, CgroupParent: "/x", DaemonSet: "gamma-node"}, "not namespace/name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestAgentPinnedRestart: with Options.PinDir the steering programs stay
// attached when the agent stops; a new agent takes over the maps with the
// namespace ids the entries use and keeps inherited entries until the proxy
// reported its listeners; once the DaemonSet is deleted the agent unpins
// and detaches everything when it stops.
func TestAgentPinnedRestart(t *testing.T) {
	steertest.RequireRoot(t)
	c := kubernetes.NewForConfigOrDie(testenv.Start(t))
	const node = "gpt-node"
	podB := createPod(t, c, "team-b", "client", node)
	dirB := "pod" + string(podB.UID)
	parent := steertest.Cgroup(t, "pinned", dirB)
	pinDir := filepath.Join(steertest.BPFFS(t), "gammaproof", "steer")
	t.Cleanup(func() {
		if err := steer.Uninstall(pinDir); err != nil {
			t.Error(err)
		}
	})
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "gamma-node", Namespace: "team-b"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "n"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "n"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "n", Image: "node"}}},
			},
		},
	}
	if _, err := c.AppsV1().DaemonSets("team-b").Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	start := func(t *testing.T) (*Agent, func() error) {
		a, stop := runAgent(t, Options{
			Client: c, NodeName: node, ProxyIP: netip.MustParseAddr("127.0.0.1"), CgroupParent: parent,
			Resync: 100 * time.Millisecond, PinDir: pinDir, KeepInherited: time.Second, DaemonSet: "team-b/gamma-node",
		})
		t.Cleanup(func() { _ = stop() })
		return a, stop
	}
	vip := netip.MustParseAddr("198.19.3.4")
	// Two listeners, so team-b's caller entry needs the namespace id the
	// first agent handed out.
	listeners := []Listener{
		{Name: "mesh~team-a~bookstore~8080", Port: 15001, VIPs: []netip.Addr{vip}, ServicePort: 8080},
		{Name: "mesh~team-a~bookstore~8080~from~team-b", Port: 15002, VIPs: []netip.Addr{vip}, ServicePort: 8080, CallerNamespace: "team-b"},
	}
	probe := func(t *testing.T, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res := steertest.Run(t, filepath.Join(parent, dirB), steertest.Probe{Listen: []string{"127.0.0.1:15001", "127.0.0.1:15002"}, Dial: "198.19.3.4:8080"})
			if res.AcceptedOn == want || (want == "" && strings.Contains(res.Err, "network is unreachable")) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("got %+v, want accepted on %q (\"\": not steered)", res, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// An id handed out before, so team-b's differs from a fresh agent's.
	seed, err := steer.Open(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(seed.SetNamespaceID("zzz", 5), seed.Close()); err != nil {
		t.Fatal(err)
	}

	a1, stop1 := start(t)
	a1.SetListeners(listeners)
	probe(t, "127.0.0.1:15002")
	if err := stop1(); err != nil {
		t.Fatalf("first agent: %v", err)
	}
	t.Run("steering stays after the agent stopped", func(t *testing.T) {
		if got := attached(t, parent); got != 2 {
			t.Fatalf("%d programs attached after the agent stopped, want 2", got)
		}
		probe(t, "127.0.0.1:15002")
	})

	a2, stop2 := start(t)
	t.Run("new agent keeps inherited entries before listeners are reported", func(t *testing.T) {
		time.Sleep(500 * time.Millisecond) // Several syncs (Resync 100ms).
		probe(t, "127.0.0.1:15002")
		if got := attached(t, parent); got != 2 {
			t.Fatalf("%d programs attached, want 2 (the pinned links, updated)", got)
		}
	})
	t.Run("new agent keeps the namespace ids", func(t *testing.T) {
		a2.SetListeners(listeners)
		time.Sleep(300 * time.Millisecond)
		probe(t, "127.0.0.1:15002")
	})
	t.Run("inherited entries go once no listener claims them", func(t *testing.T) {
		if id := a1.ids.All()["team-b"]; id != 6 {
			t.Fatalf("first agent gave team-b id %d, want 6 (after the seeded 5)", id)
		}
		a2.SetListeners(nil)
		probe(t, "") // After KeepInherited (1s) from the first report.
	})
	t.Run("DaemonSet deleted: unpinned on stop", func(t *testing.T) {
		if err := c.AppsV1().DaemonSets("team-b").Delete(t.Context(), "gamma-node", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !a2.uninstall.Load() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if err := stop2(); err != nil {
			t.Fatalf("second agent: %v", err)
		}
		if id := a2.ids.All()["team-b"]; id != 6 {
			t.Fatalf("second agent gave team-b id %d, want the first agent's 6", id)
		}
		if _, err := os.Stat(pinDir); !os.IsNotExist(err) {
			t.Fatalf("pin dir after uninstall: %v, want it gone", err)
		}
		var got int
		for range 100 { // Links are freed after an RCU grace period.
			if got = attached(t, parent); got == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got != 0 {
			t.Fatalf("%d programs still attached after uninstall", got)
		}
	})
}

// runAgent starts an agent with opts (logging warnings only) until the test
// ends or stop is called; stop returns what Run returned.
func runAgent(t *testing.T, opts Options) (*Agent, func() error) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, sync.OnceValue(func() error { cancel(); return <-done })
}
