package podproxy

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/internal/testenv"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/client"
	"github.com/gammaproof/gammaproof/suite/sample/echo"
)

// The API server's pod proxy dials the pod IP from pod status. A test API
// server has no node, so this test plays the pod: it puts a pod address
// (198.18.254.254, in the project's pod range, on an empty bridge gpt-h8pp:
// this kernel has no dummy links) on
// this host, serves the real client API and an echo backend there, and
// writes that IP and a Ready condition into the pod's status. Everything
// between the Sender and the client is then the real kube-apiserver.
const (
	podIP    = "198.18.254.254"
	linkName = "gpt-h8pp"
)

func podAddress(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test puts a pod address on a bridge and needs root: run it as root")
	}
	if old, err := netlink.LinkByName(linkName); err == nil {
		if err := netlink.LinkDel(old); err != nil {
			t.Fatalf("delete leftover link %s: %v", linkName, err)
		}
	}
	link := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: linkName}}
	if err := netlink.LinkAdd(link); err != nil {
		t.Fatalf("add bridge %s: %v", linkName, err)
	}
	t.Cleanup(func() {
		if err := netlink.LinkDel(link); err != nil {
			t.Errorf("delete link %s: %v", linkName, err)
		}
	})
	addr, err := netlink.ParseAddr(podIP + "/32")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatalf("add %s to %s: %v", podIP, linkName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatalf("set %s up: %v", linkName, err)
	}
}

// serve runs serve on a listener at podIP until the test ends.
func serve(t *testing.T, serve func(context.Context, net.Listener) error) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(podIP, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", podIP, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve on %s: %v", ln.Addr(), err)
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func createPod(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "client", Image: "gammaproof/client"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	return pod
}

func setRunning(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	pod.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		PodIP:      podIP,
		PodIPs:     []corev1.PodIP{{IP: podIP}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	if _, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update pod status: %v", err)
	}
}

func TestSenderThroughAPIServer(t *testing.T) {
	podAddress(t)
	cs, err := kubernetes.NewForConfig(testenv.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	s := client.New()
	t.Cleanup(func() { s.Close() })
	apiPort := serve(t, func(ctx context.Context, ln net.Listener) error {
		return client.Serve(ctx, ln, client.Handler(s, nil))
	})
	echoPort := serve(t, echo.New(echo.Config{Pod: "echo-0", Version: "v1"}).Serve)

	// A pod that does not exist: the API server answers for the pod proxy.
	_, err = New(cs, "default", "nope", apiPort).Sample(context.Background(), sample.Request{URL: "http://a/"})
	if err == nil || !strings.Contains(err.Error(), `pods "nope" not found`) {
		t.Fatalf("sample via a missing pod: err = %v, want the API server's not found", err)
	}

	pod := createPod(t, cs, "gpt-h8-clients", "client-0")
	sender := New(cs, pod.Namespace, pod.Name, apiPort)

	// Not running yet: WaitForClient times out and says what it saw.
	err = sender.WaitForClient(context.Background(), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "not Ready") {
		t.Fatalf("WaitForClient on a pending pod: err = %v, want a timeout naming the state", err)
	}
	setRunning(t, cs, pod)
	if err := sender.WaitForClient(context.Background(), 30*time.Second); err != nil {
		t.Fatalf("WaitForClient: %v", err)
	}

	url := "http://" + net.JoinHostPort(podIP, strconv.Itoa(echoPort)) + "/books"
	res, err := sender.Sample(context.Background(), sample.Request{URL: url, Count: 25, Concurrency: 5, RecordEcho: []string{"path"}})
	if err != nil {
		t.Fatalf("Sample through the API server: %v", err)
	}
	if res.Requests != 25 || res.ByBackend["v1"] != 25 || res.ByStatus["200"] != 25 || res.Echo["path"]["/books"] != 25 {
		t.Errorf("result %+v; want 25 answers from v1 on /books", res)
	}

	// The client's 400 comes back through the proxy with its text.
	_, err = sender.Sample(context.Background(), sample.Request{URL: "ftp://x/"})
	if err == nil || !strings.Contains(err.Error(), "give an http:// or https:// URL") {
		t.Errorf("invalid request: err = %v, want the client's message", err)
	}
	var ctxErr error = context.DeadlineExceeded
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = sender.Sample(ctx, sample.Request{URL: url + "?delay=2s"})
	if !errors.Is(err, ctxErr) {
		t.Errorf("sample past the caller's deadline: err = %v, want %v", err, ctxErr)
	}
}
