//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/console"
	"github.com/gammaproof/gammaproof/suite/image"
)

// Flags of the registry test (go test -tags e2e ./cmd/gammaproof -run
// TestRegistryVerify -args ...).
var (
	registryVerifyArgs = flag.String("registry-verify-args", "", "more flags for the verify run, space-separated (e.g. --feature=^mesh-)")
	clusterLock        = flag.String("cluster-lock", "/tmp/gammaproof-cluster.lock", "file locked (flock) while the test uses the local cluster; \"\" takes no lock")
)

// TestRegistryVerify is issue #15's registry path, end to end, as a user
// of another cluster would take it: a registry serves on loopback
// (go-containerregistry's pkg/registry, in this test process);
// `gammaproof images push --registry` cross-compiles our binaries and
// pushes linux/amd64 + linux/arm64 images to it; then the lone gammaproof
// binary, in an empty directory with nothing on $PATH, runs `verify
// --env=existing --image-registry` against the local cluster. The local
// node resolves every gammaproof image by pulling it from the registry
// (localcluster/node/pull.go): the test asserts that the registry served
// the manifests of all four images, that gammaproof's own pods run the
// registry's images, and that every scenario passed. It prints how long
// each phase took.
//
// It builds and pushes before it takes the cluster lock (-cluster-lock),
// and starts the local cluster (bin/ must hold `make kube build`) unless
// one runs, stopping it again at the end.
func TestRegistryVerify(t *testing.T) {
	ctx := t.Context()
	root := repo.Root()
	dir, bin := buildStandalone(t)

	reg := newRecordingRegistry()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host // 127.0.0.1:<port>
	t.Logf("registry: %s (go-containerregistry pkg/registry, in the test process)", host)

	start := time.Now()
	push := exec.CommandContext(ctx, bin, "images", "push", "--registry", host)
	push.Dir = root // push cross-compiles from the checkout
	push.Env = append(os.Environ(), "GAMMAPROOF_ROOT="+root)
	out, err := push.CombinedOutput()
	if err != nil {
		t.Fatalf("images push: %v\n%s", err, out)
	}
	pushTook := time.Since(start)
	t.Logf("images push: %.1fs\n%s", pushTook.Seconds(), out)
	for _, s := range image.Ours {
		if !strings.Contains(string(out), "images: pushed "+host+"/"+s.Repository+":"+image.Tag+"@sha256:") {
			t.Fatalf("images push did not report %s/%s:%s", host, s.Repository, image.Tag)
		}
	}
	reg.reset() // from here on, what the registry serves is pulls

	unlock := lockCluster(t)
	defer unlock()
	kubeconfig, stop := localCluster(t, root)
	defer stop()

	reports := filepath.Join(dir, "reports")
	args := []string{"verify", "--env=existing", "--kubeconfig", kubeconfig, "--image-registry", host, "--report-dir", reports, "-o", "json"}
	args = append(args, strings.Fields(*registryVerifyArgs)...)
	verify := exec.CommandContext(ctx, bin, args...)
	verify.Dir = dir
	verify.Env = standaloneEnv(dir)
	var stdout bytes.Buffer
	verify.Stdout = &stdout
	verify.Stderr = &prefixWriter{t: t}
	start = time.Now()
	err = verify.Run()
	verifyTook := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run verify: %v", err)
	}
	t.Logf("verify --image-registry %s: exit %d after %.1fs", host, verify.ProcessState.ExitCode(), verifyTook.Seconds())

	var sum console.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("verify -o json: %v\n%s", err, stdout.String())
	}
	for _, s := range sum.Scenarios {
		t.Logf("  %-13s %-40s %6d requests %6.1fs %s", s.Verdict, s.Name, s.Requests, s.Seconds, s.Reason)
	}
	if !sum.Passed || verify.ProcessState.ExitCode() != 0 || len(sum.Scenarios) == 0 {
		t.Errorf("verify: passed=%v, exit %d, %d scenarios; want every scenario passed, exit 0", sum.Passed, verify.ProcessState.ExitCode(), len(sum.Scenarios))
	}
	if _, err := os.Stat(filepath.Join(reports, "results.json")); err != nil {
		t.Errorf("no results.json in the report directory: %v", err)
	}

	pulled := reg.manifestGets()
	for _, s := range image.Ours {
		if !slices.Contains(pulled, s.Repository) {
			t.Errorf("the registry served no manifest of %s (it served %q): the cluster did not pull it", s.Repository, pulled)
		}
	}
	podImages(t, ctx, kubeconfig, host)
	t.Logf("times: images push %.1fs, verify %.1fs (registry served %d requests during verify)", pushTook.Seconds(), verifyTook.Seconds(), reg.count())
}

// podImages checks that gammaproof's own pods run images of the registry.
func podImages(t *testing.T, ctx context.Context, kubeconfig, host string) {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("gammaproof-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list gammaproof's pods: %v", err)
	}
	if len(pods.Items) == 0 {
		t.Fatal("no pods in gammaproof-system")
	}
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			if !strings.HasPrefix(c.Image, host+"/gammaproof/") {
				t.Errorf("pod %s container %s runs %s, not an image of %s", p.Name, c.Name, c.Image, host)
			}
		}
	}
}

// lockCluster takes the cluster lock (flock on -cluster-lock), waiting
// for it, and returns its release.
func lockCluster(t *testing.T) func() {
	t.Helper()
	if *clusterLock == "" {
		return func() {}
	}
	f, err := os.OpenFile(*clusterLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("open the cluster lock: %v", err)
	}
	start := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("take the cluster lock %s: %v", *clusterLock, err)
	}
	t.Logf("cluster lock %s taken after %.1fs", *clusterLock, time.Since(start).Seconds())
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// localCluster returns the kubeconfig of the local cluster, starting it
// with the checkout's state and bin/ unless it runs, and the function that
// stops a cluster it started.
func localCluster(t *testing.T, root string) (string, func()) {
	t.Helper()
	gp, err := repo.Bin("gammaproof")
	if err != nil {
		t.Fatal(err)
	}
	gammaproof := func(args ...string) ([]byte, error) {
		cmd := exec.Command(gp, args...)
		cmd.Dir = root
		if args[len(args)-1] == "json" {
			return cmd.Output()
		}
		return cmd.CombinedOutput()
	}
	var st clusterState
	out, statusErr := gammaproof("cluster", "status", "-o", "json")
	if err := json.Unmarshal(out, &st); err != nil || st.Kubeconfig == "" {
		t.Fatalf("cluster status -o json: %v\n%s", err, out)
	}
	kubeconfig := st.Kubeconfig
	if statusErr == nil {
		t.Log("using the running local cluster (it stays up)")
		return kubeconfig, func() {}
	}
	start := time.Now()
	if out, err := gammaproof("cluster", "up"); err != nil {
		out2, _ := gammaproof("cluster", "down")
		t.Fatalf("cluster up: %v\n%s\ncluster down: %s", err, out, out2)
	}
	t.Logf("cluster up: %.1fs", time.Since(start).Seconds())
	return kubeconfig, func() {
		if out, err := gammaproof("cluster", "down"); err != nil {
			t.Errorf("cluster down: %v\n%s", err, out)
		}
	}
}

// recordingRegistry is go-containerregistry's registry, recording the
// repositories whose manifests it served.
type recordingRegistry struct {
	h  http.Handler
	mu sync.Mutex
	n  int
	// manifests lists the repositories of GET /v2/<repo>/manifests/...
	manifests []string
}

func newRecordingRegistry() *recordingRegistry {
	return &recordingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
}

var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/[^/]+$`)

func (r *recordingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.n++
	if m := manifestPath.FindStringSubmatch(req.URL.Path); m != nil && req.Method == http.MethodGet && !slices.Contains(r.manifests, m[1]) {
		r.manifests = append(r.manifests, m[1])
	}
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *recordingRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n, r.manifests = 0, nil
}

func (r *recordingRegistry) manifestGets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.manifests)
}

func (r *recordingRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// prefixWriter logs what verify prints on stderr, line by line.
type prefixWriter struct {
	t   *testing.T
	buf []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.t.Log("verify: " + string(p.buf[:i]))
		p.buf = p.buf[i+1:]
	}
}
