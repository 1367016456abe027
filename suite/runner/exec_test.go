package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	utilexec "k8s.io/utils/exec"

	"github.com/gammaproof/gammaproof/internal/testenv"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// TestExec proves exec checks need no kubectl: the runner execs through a
// real kube-apiserver's pods/exec subresource (client-go, WebSocket or
// SPDY) to a node whose kubelet API is served in the test, where the
// command really runs (sh on this machine, standing in for the
// container). The check records the whole output, stdout and stderr, and a
// non-zero exit is an ERROR carrying the exit code.
func TestExec(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("this test runs the exec'd command with sh, which is not on $PATH")
	}
	cfg := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(cfg)

	// The node's kubelet API: exec runs the command here.
	var mu sync.Mutex
	var containers []string
	kubelet := httptest.NewUnstartedServer(api.PodHandler(api.PodHandlerConfig{
		RunInContainer: func(ctx context.Context, ns, pod, container string, cmd []string, aio api.AttachIO) error {
			mu.Lock()
			containers = append(containers, container)
			mu.Unlock()
			c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
			c.Stdout, c.Stderr = aio.Stdout(), aio.Stderr()
			err := c.Run()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", exit.ExitCode()), Code: exit.ExitCode()}
			}
			return err
		},
		StreamIdleTimeout:     time.Minute,
		StreamCreationTimeout: 30 * time.Second,
	}, false))
	kubelet.StartTLS()
	defer kubelet.Close()
	_, port, err := net.SplitHostPort(kubelet.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	kubeletPort, _ := strconv.Atoi(port)
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "exec-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(kubeletPort)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("x").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "netshoot", Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "shell"}},
		Spec: corev1.PodSpec{NodeName: "exec-node", Containers: []corev1.Container{
			{Name: "sidecar", Image: "gammaproof/echo:dev"}, {Name: "shell", Image: "gammaproof/client:dev"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := cs.CoreV1().Pods("x").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// No kubectl and no kubeconfig file: the runner has only client-go.
	r := &Runner{Client: cs, REST: cfg}
	loop := `for i in $(seq 1 20); do if [ $((i % 4)) = 0 ]; then echo "Response from v2"; else echo "Response from v1"; fi; done; echo "stderr line" >&2`
	tests := []struct {
		name        string
		command     string
		contains    []string
		wantVerdict verdict.Verdict
		wantIn      []string
	}{
		{"pass", loop, []string{"Response from v1", "Response from v2"}, verdict.Pass,
			[]string{`"Response from v1" on 15 of 21 lines`, `"Response from v2" on 5 of 21 lines`, "output (21 lines):", "stderr line"}},
		{"output lacks one", loop, []string{"Response from v1", "Response from v3"}, verdict.Fail,
			[]string{`"Response from v3" on 0 of 21 lines`, "Response from v2"}},
		{"exit code", `echo partial; exit 3`, []string{"partial"}, verdict.Error,
			[]string{`"partial" on 1 of 1 lines`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := scenario.Step{Name: "exec", Exec: []scenario.Exec{{Namespace: "x", Pod: "netshoot",
				Command: []string{"sh", "-c", tt.command}, Contains: tt.contains}}}
			var res report.Scenario
			if _, err := r.runStep(ctx, &scenario.Scenario{Name: "exec"}, st, nil, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Checks) != 1 {
				t.Fatalf("%d checks, want 1", len(res.Checks))
			}
			c := res.Checks[0]
			if c.Verdict != tt.wantVerdict {
				t.Errorf("verdict %s (error %q), want %s", c.Verdict, c.Error, tt.wantVerdict)
			}
			for _, want := range tt.wantIn {
				if !strings.Contains(c.Observed, want) {
					t.Errorf("observed %q lacks %q", c.Observed, want)
				}
			}
			if tt.wantVerdict == verdict.Error && !strings.Contains(c.Error, "exit code 3") {
				t.Errorf("error %q, want the exit code", c.Error)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range containers {
		if c != "shell" {
			t.Errorf("exec ran in container %q, want the pod's default container shell", c)
		}
	}
	if len(containers) != len(tests) {
		t.Errorf("the kubelet ran %d commands, want %d", len(containers), len(tests))
	}
}
