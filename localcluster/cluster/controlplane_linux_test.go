package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

// TestControlPlane starts etcd and the control plane for real, checks the
// API works, then takes it down and checks nothing is left.
func TestControlPlane(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root; run it with sudo")
	}
	for _, b := range Components[:4] {
		if _, err := repo.Bin(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "state")
	c := New(Options{StateDir: dir, ControlPlaneOnly: true, Progress: testenv.LogWriter(t)})
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	res, err := c.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.AlreadyRunning {
		t.Fatal("first Up says the cluster was already running")
	}
	t.Logf("control plane up in %s", res.Took)

	cfg, err := c.RestConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gpt-controlplane"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	ext := apiextensions.NewForConfigOrDie(cfg)
	for _, name := range []string{"httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io"} {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
	// The controller manager's root CA publisher runs.
	if err := testenv.Poll(ctx, 30*time.Second, 100*time.Millisecond, func() error {
		_, err := cs.CoreV1().ConfigMaps(ns.Name).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Errorf("kube-root-ca.crt in new namespace: %v", err)
	}

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running() {
		t.Fatalf("status after up: %+v", st)
	}

	again, err := c.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyRunning {
		t.Error("second Up did not notice the running cluster")
	}

	// A crash: kill etcd and the apiserver hard. Up must clean up and start afresh.
	for _, cs := range st.Components[:2] {
		if err := unix.Kill(cs.PID, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if err := testenv.Poll(ctx, 30*time.Second, 100*time.Millisecond, func() error {
		if alive(st.Components[0].PID) {
			return os.ErrExist
		}
		return nil
	}); err != nil {
		t.Fatal("etcd survived SIGKILL")
	}
	res, err = c.Up(ctx)
	if err != nil {
		t.Fatalf("up after a crash: %v", err)
	}
	if res.AlreadyRunning {
		t.Fatal("up after a crash says already running")
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); err == nil {
		t.Error("namespace survived: up after a crash did not start from clean state")
	}

	st, err = c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, comp := range st.Components {
		if alive(comp.PID) {
			t.Errorf("%s (pid %d) still runs after down", comp.Name, comp.PID)
		}
	}
	left, err := findProcesses(c.Layout())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir left after down: %v", err)
	}
	if err := checkPorts(Ports[:3]); err != nil { // etcd and the API server
		t.Errorf("ports still taken after down: %v", err)
	}
	if err := c.Down(ctx); err != nil {
		t.Errorf("second down (nothing left) = %v, want nil", err)
	}
}

// TestServiceCIDRIsTestenvs keeps the two copies of the project's Service
// range equal: internal/testenv may not import localcluster (internal is
// the bottom layer), so it has its own.
func TestServiceCIDRIsTestenvs(t *testing.T) {
	if ServiceCIDR != testenv.ServiceCIDR {
		t.Errorf("ServiceCIDR %s, testenv.ServiceCIDR %s: they must be equal", ServiceCIDR, testenv.ServiceCIDR)
	}
}
