//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/suite/perf"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
)

// nodeSelector selects gammaproof's node agent (proxy and steering).
const nodeSelector = "app.kubernetes.io/name=gamma-node"

// splitRoute is the route of the node restart test: Service echo-v1's
// traffic split 50/50 between echo-v2 and echo-other (another namespace;
// the fixture's grant allows it). Service echo-v1's own pod (v1) is named
// by no rule, so an answer from v1 is a request that bypassed the route.
var splitRoute = splitRouteWeights(50, 50)

// splitRouteWeights is Service echo-v1's route that splits between echo-v2
// and echo-other with weights w2 and wo; v1 answers nothing.
func splitRouteWeights(w2, wo int) string {
	return strings.NewReplacer("W2", strconv.Itoa(w2), "WO", strconv.Itoa(wo)).Replace(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: split
  namespace: NAMESPACE
spec:
  parentRefs:
  - {group: "", kind: Service, name: echo-v1, port: 8080}
  rules:
  - backendRefs:
    - {name: echo-v2, port: 8080, weight: W2}
    - {name: echo-other, namespace: NAMESPACE-other, port: 8080, weight: WO}
`)
}

// routeBackends are the versions splitRoute names.
var routeBackends = []string{"v2", "other"}

// batch is one short batch of load and what it got.
type batch struct {
	start, end time.Time
	requests   int
	failed     int            // no answer or not 200
	wrong      map[string]int // answers from backends the route does not name
	res        sample.Result
}

func (b batch) wrongCount() int {
	n := 0
	for _, c := range b.wrong {
		n += c
	}
	return n
}

// loadRate and loadBatch: back-to-back batches of 0.2 s at 500 requests
// per second, so a failure is placed in time to within a batch.
const (
	loadRate  = 500
	loadBatch = 100
)

// steadyLoad sends batches to url until stop is closed and returns them.
// keepAlive reuses the client's connections across requests and batches;
// otherwise every request opens a new connection.
func steadyLoad(ctx context.Context, s sample.Sampler, url string, keepAlive bool, named []string, stop <-chan struct{}) ([]batch, error) {
	var out []batch
	for {
		select {
		case <-stop:
			return out, nil
		default:
		}
		b := batch{start: time.Now()}
		res, err := s.Sample(ctx, sample.Request{URL: url, Count: loadBatch, Concurrency: 32, Rate: loadRate,
			NewConnectionPerRequest: !keepAlive, Timeout: sample.Duration(2 * time.Second)})
		if err != nil {
			return out, fmt.Errorf("load %s: %w", url, err)
		}
		b.end, b.res, b.requests = time.Now(), res, res.Requests
		b.failed = res.Requests - res.ByStatus["200"]
		for be, n := range res.ByBackend {
			if !slices.Contains(named, be) {
				if b.wrong == nil {
					b.wrong = map[string]int{}
				}
				b.wrong[be] += n
			}
		}
		out = append(out, b)
	}
}

// faultOutcome sums the batches of one fault.
type faultOutcome struct {
	requests, failed, wrong int
	wrongBy                 map[string]int
	// recovered is how long after the fault the last bad batch (a failure
	// or a wrong backend) ended; 0 when there was none.
	recovered time.Duration
	// cleanTail is how long the load ran clean at the end.
	cleanTail time.Duration
	errors    map[sample.ErrorKind]int
	statuses  map[string]int
}

func summarize(bs []batch, fault time.Time) faultOutcome {
	o := faultOutcome{wrongBy: map[string]int{}, errors: map[sample.ErrorKind]int{}, statuses: map[string]int{}}
	var lastBad time.Time
	for _, b := range bs {
		o.requests += b.requests
		o.failed += b.failed
		o.wrong += b.wrongCount()
		for k, v := range b.wrong {
			o.wrongBy[k] += v
		}
		for k, v := range b.res.Errors {
			o.errors[k] += v
		}
		for k, v := range b.res.ByStatus {
			if k != "200" {
				o.statuses[k] += v
			}
		}
		if b.failed > 0 || b.wrongCount() > 0 {
			lastBad = b.end
		}
	}
	if !lastBad.IsZero() {
		o.recovered = max(0, lastBad.Sub(fault))
	}
	if len(bs) > 0 {
		end := bs[len(bs)-1].end
		o.cleanTail = end.Sub(fault)
		if !lastBad.IsZero() {
			o.cleanTail = end.Sub(lastBad)
		}
	}
	return o
}

func (o faultOutcome) String() string {
	return fmt.Sprintf("%d requests, %d failed (errors %v, statuses %v), %d by a wrong backend %v, recovered %v after the kill",
		o.requests, o.failed, o.errors, o.statuses, o.wrong, o.wrongBy, o.recovered.Round(10*time.Millisecond))
}

// nodePod returns the node agent's pod (the local cluster has one node).
func nodePod(ctx context.Context) (*corev1.Pod, error) {
	pods, err := suite.runner.Client.CoreV1().Pods("gammaproof-system").List(ctx, metav1.ListOptions{LabelSelector: nodeSelector})
	if err != nil {
		return nil, fmt.Errorf("list node agent pods: %w", err)
	}
	for i := range pods.Items {
		if pods.Items[i].DeletionTimestamp == nil {
			return &pods.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no node agent pod (%s) in gammaproof-system", nodeSelector)
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitNodeBack waits until a node agent pod other than old, or old
// restarted, is Ready.
func waitNodeBack(ctx context.Context, old *corev1.Pod) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := nodePod(ctx)
		if err == nil && podIsReady(p) && (p.UID != old.UID || restarts(p) > restarts(old)) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("node agent not Ready again within 2m (old pod %s)", old.Name)
}

// deleteNodePod deletes the node agent's pod with grace period 0.
func deleteNodePod(ctx context.Context, p *corev1.Pod) error {
	grace := int64(0)
	if err := suite.runner.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		return fmt.Errorf("delete node agent pod %s: %w", p.Name, err)
	}
	return nil
}

// killNodeProcess sends SIGKILL to the gamma-node process of pod p: a
// process on this host whose cgroup is the pod's (pod<uid>, as the local
// cluster names pod cgroups) and whose command is gamma-node.
func killNodeProcess(p *corev1.Pod) (int, error) {
	pids, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	cg := "/pod" + string(p.UID)
	for _, dir := range pids {
		cgroup, err := os.ReadFile(filepath.Join(dir, "cgroup"))
		if err != nil || !strings.Contains(string(cgroup), cg) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(cmdline), "\x00")
		if filepath.Base(argv0) != "gamma-node" {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			return 0, fmt.Errorf("kill gamma-node (pid %d): %w", pid, err)
		}
		return pid, nil
	}
	return 0, fmt.Errorf("no gamma-node process in cgroup %s of pod %s on this host", cg, p.Name)
}

// TestNodeRestartUnderLoad kills gammaproof's node agent (which runs the
// proxy and attaches the steering programs) while a client sends 500
// requests per second through a 50/50 split route on Service echo-v1, on
// new connections and on kept-alive ones; the pod is deleted with grace
// period 0, and separately the process gets SIGKILL. It reports failed
// requests and the time to recover, and requires that no request is
// answered by a backend the route does not name (echo-v1's own pod: the
// route bypassed) and that the load runs clean again afterwards.
// docs/robustness.md records the figures.
func TestNodeRestartUnderLoad(t *testing.T) {
	if suite.opts.Implementation != ImplGammaproof {
		t.Skipf("SKIP: kills gammaproof's node agent; this run tests --implementation=%s", suite.opts.Implementation)
	}
	f := newPerfFixture(t, "gp-node-restart")
	ctx := context.Background()
	route := decodeFixture(t, splitRoute, f.ns)
	grant := f.objects(t, "grant.yaml")
	f.measure(t, perf.Change{Name: "50/50 split route on echo-v1", Apply: apply(append(grant, route...)),
		Probe: sample.Request{URL: "http://echo-v1:8080/", Count: 40, Concurrency: 4, Timeout: sample.Duration(2 * time.Second)},
		Reflected: func(r sample.Result) bool {
			return r.Requests > 0 && r.ByBackend["v2"]+r.ByBackend["other"] == r.Requests && r.ByBackend["v2"] > 0 && r.ByBackend["other"] > 0
		}})
	svc, err := suite.runner.Client.CoreV1().Services(f.ns).Get(ctx, "echo-v1", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" {
		t.Fatalf("find Service echo-v1's cluster IP: %v", err)
	}
	// An address, not a name: a DNS lookup per new connection would be
	// load on something else than the node agent.
	url := fmt.Sprintf("http://%s:8080/", svc.Spec.ClusterIP)

	faults := []struct {
		name  string
		local bool // needs the node's processes on this host
		kill  func(*corev1.Pod) (string, error)
	}{
		{"pod-deleted", false, func(p *corev1.Pod) (string, error) {
			return "deleted pod " + p.Name + " (grace 0)", deleteNodePod(ctx, p)
		}},
		{"sigkill", true, func(p *corev1.Pod) (string, error) {
			pid, err := killNodeProcess(p)
			return fmt.Sprintf("SIGKILL to gamma-node pid %d of pod %s", pid, p.Name), err
		}},
	}
	for _, fault := range faults {
		for _, keepAlive := range []bool{false, true} {
			conns := "new-connections"
			if keepAlive {
				conns = "keep-alive"
			}
			t.Run(fault.name+"/"+conns, func(t *testing.T) {
				if fault.local && suite.opts.Env != report.EnvLocal {
					t.Skipf("SKIP: SIGKILL of the node agent's process needs the local cluster (its pods are processes on this host); this run uses --env=%s", suite.opts.Env)
				}
				old, err := nodePod(ctx)
				if err != nil || !podIsReady(old) {
					t.Fatalf("node agent not ready before the kill: %v", err)
				}
				stop := make(chan struct{})
				var bs []batch
				var loadErr error
				var wg sync.WaitGroup
				wg.Go(func() { bs, loadErr = steadyLoad(ctx, f.sampler, url, keepAlive, routeBackends, stop) })
				time.Sleep(3 * time.Second)
				what, err := fault.kill(old)
				killed := time.Now()
				if err != nil {
					close(stop)
					wg.Wait()
					t.Fatal(err)
				}
				t.Logf("%s", what)
				backErr := waitNodeBack(ctx, old)
				back := time.Since(killed)
				// Load goes on for 5 s after the agent is back: the route
				// must hold again, on new connections and on old ones.
				time.Sleep(5 * time.Second)
				close(stop)
				wg.Wait()
				if backErr != nil {
					t.Fatal(backErr)
				}
				if loadErr != nil {
					t.Fatal(loadErr)
				}
				var before, after []batch
				for _, b := range bs {
					if b.end.Before(killed) {
						before = append(before, b)
					} else {
						after = append(after, b)
					}
				}
				pre := summarize(before, killed)
				if pre.failed > 0 || pre.wrong > 0 {
					t.Fatalf("load was not clean before the kill: %s", pre)
				}
				o := summarize(after, killed)
				rps := 0.0
				if len(bs) > 0 {
					rps = float64(pre.requests+o.requests) / bs[len(bs)-1].end.Sub(bs[0].start).Seconds()
				}
				t.Logf("RESULT node-restart %s %s: %.0f req/s; agent Ready again %v after the kill; from the kill on: %s; clean for the last %v",
					fault.name, conns, rps, back.Round(10*time.Millisecond), o, o.cleanTail.Round(10*time.Millisecond))
				if o.wrong > 0 {
					t.Errorf("%d requests answered by a backend the route does not name (%v): traffic bypassed the route while the node agent was down", o.wrong, o.wrongBy)
				}
				if o.cleanTail < 3*time.Second {
					t.Errorf("the load did not run clean for 3 s after the node agent came back (clean for the last %v)", o.cleanTail.Round(10*time.Millisecond))
				}
			})
		}
	}
}

// decodeFixture decodes YAML with NAMESPACE replaced by ns.
func decodeFixture(tb testing.TB, yaml, ns string) []*unstructured.Unstructured {
	tb.Helper()
	objs, err := kubeapply.Decode([]byte(strings.ReplaceAll(yaml, "NAMESPACE", ns)))
	if err != nil {
		tb.Fatalf("decode fixture: %v", err)
	}
	return objs
}
