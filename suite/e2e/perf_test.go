//go:build e2e

package e2e

import (
	"context"
	"embed"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/localcluster/node"
	"github.com/gammaproof/gammaproof/suite/perf"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/podproxy"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/stats"
)

//go:embed testdata/perf/*.yaml
var perfFiles embed.FS

// changes is how many changes a convergence benchmark measures per b.N.
const changes = 20

// convergenceTimeout bounds one change; the goal is p99 ≤ 1 s.
const convergenceTimeout = 30 * time.Second

// perfFixture is the perf fixture deployed in its own namespace.
type perfFixture struct {
	ns      string
	sampler sample.Sampler
}

// objects decodes a perf file with its placeholders replaced.
func (f *perfFixture) objects(tb testing.TB, file string, replace ...string) []*unstructured.Unstructured {
	tb.Helper()
	raw, err := perfFiles.ReadFile("testdata/perf/" + file)
	if err != nil {
		tb.Fatal(err)
	}
	// BACKEND_NAMESPACE before NAMESPACE: the longer placeholder first.
	r := strings.NewReplacer(append(replace, "NAMESPACE", f.ns)...)
	objs, err := kubeapply.Decode([]byte(r.Replace(string(raw))))
	if err != nil {
		tb.Fatalf("decode %s: %v", file, err)
	}
	return objs
}

// route returns the route sending all of echo's traffic to backend (in
// namespace ns, "" for the fixture's own).
func (f *perfFixture) route(tb testing.TB, backend, ns string) []*unstructured.Unstructured {
	if ns == "" {
		ns = f.ns
	}
	return f.objects(tb, "route.yaml", "BACKEND_NAMESPACE", ns, "BACKEND", backend)
}

// newPerfFixture deploys the fixture in namespace ns (and ns-other), waits
// for its pods and removes it when tb ends.
func newPerfFixture(tb testing.TB, ns string) *perfFixture {
	tb.Helper()
	if suite.runner == nil {
		tb.Fatal("the environment was not set up; see the errors above")
	}
	ctx := context.Background()
	f := &perfFixture{ns: ns, sampler: podproxy.New(suite.runner.Client, ns, "client", sample.DefaultClientPort)}
	objs := f.objects(tb, "backends.yaml")
	tb.Cleanup(func() {
		if err := suite.runner.Applier.Delete(context.Background(), objs); err != nil {
			tb.Logf("clean up %s: %v", ns, err)
		}
	})
	waitStart := time.Now()
	for _, n := range []string{ns, ns + "-other"} {
		if err := namespaceNotTerminating(ctx, n); err != nil {
			tb.Fatal(err)
		}
	}
	if waited := time.Since(waitStart); waited > time.Second {
		tb.Logf("waited %.1fs for namespaces %s and %s-other of an earlier run to go", waited.Seconds(), ns, ns)
	}
	if err := suite.runner.Applier.Apply(ctx, objs, false); err != nil {
		tb.Fatal(err)
	}
	for _, w := range []scenario.PodSelector{
		{Namespace: ns, Selector: "app=echo", Count: 2},
		{Namespace: ns + "-other", Selector: "app=echo-other"},
		{Namespace: ns, Selector: "app=gammaproof-client"},
	} {
		if err := suite.runner.Wait(ctx, scenario.Wait{PodsReady: &w}); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// namespaceNotTerminating waits until namespace ns, deleted by an earlier
// run, is gone, so the fixture can be created again.
func namespaceNotTerminating(ctx context.Context, ns string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := suite.runner.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("get namespace %s: %w", ns, err)
		case n.DeletionTimestamp == nil:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("namespace %s is still terminating after 2m", ns)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apply returns a Change step that applies objs.
func apply(objs []*unstructured.Unstructured) func(context.Context) error {
	return func(ctx context.Context) error { return suite.runner.Applier.Apply(ctx, objs, false) }
}

// answeredBy reports whether every probe answer came from version.
func answeredBy(version string) func(sample.Result) bool {
	return func(r sample.Result) bool { return r.Requests > 0 && r.ByBackend[version] == r.Requests }
}

// statusIs reports whether every probe got status code.
func statusIs(code string) func(sample.Result) bool {
	return func(r sample.Result) bool { return r.Requests > 0 && r.ByStatus[code] == r.Requests }
}

func (f *perfFixture) probe() sample.Request {
	return sample.Request{URL: "http://echo:8080/", Timeout: sample.Duration(2 * time.Second)}
}

// measure measures c and fails tb when it does not converge.
func (f *perfFixture) measure(tb testing.TB, c perf.Change) time.Duration {
	tb.Helper()
	d, err := perf.Measure(context.Background(), f.sampler, c, convergenceTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// firstRoute applies the route to echo-<version> and waits until traffic
// follows it. Without a route, Service echo answers from v1 or v2: ten
// answers in a row from version prove the route (a chance of 1 in 1024
// otherwise).
func (f *perfFixture) firstRoute(tb testing.TB, version string) {
	probe := f.probe()
	probe.Count = 10
	f.measure(tb, perf.Change{Name: "route to " + version, Apply: apply(f.route(tb, "echo-"+version, "")), Probe: probe, Reflected: answeredBy(version)})
}

// reportDurations puts a summary of durations into the benchmark's metrics.
func reportDurations(b *testing.B, what string, d []time.Duration) {
	s := perf.Summarize(d)
	b.Logf("%s: %s", what, s)
	b.ReportMetric(float64(s.P50)/float64(time.Millisecond), what+"-p50-ms")
	b.ReportMetric(float64(s.P99)/float64(time.Millisecond), what+"-p99-ms")
}

// BenchmarkRouteConvergence measures how long a route change takes from
// its apply (server-side apply, like kubectl apply) to the first request
// that shows it: the route flips all of echo's traffic between v1 and v2,
// 20 times per b.N.
func BenchmarkRouteConvergence(b *testing.B) {
	f := newPerfFixture(b, "gp-perf-route")
	f.firstRoute(b, "v1")
	var took []time.Duration
	for range b.N {
		for i := range changes {
			to := []string{"v2", "v1"}[i%2]
			took = append(took, f.measure(b, perf.Change{
				Name: "route to " + to, Apply: apply(f.route(b, "echo-"+to, "")), Probe: f.probe(), Reflected: answeredBy(to),
			}))
		}
	}
	reportDurations(b, "route", took)
}

// BenchmarkGrantRevocation measures, under the strict grant policy, how
// long deleting a ReferenceGrant takes to turn a cross-namespace backend's
// answers into 500s, and re-creating it to turn them back, 20 times per
// b.N.
func BenchmarkGrantRevocation(b *testing.B) {
	if grantpolicy.Policy(suite.opts.GrantPolicy) != grantpolicy.Strict {
		b.Skipf("SKIP: grant revocation needs the strict grant policy; this run uses %q (make bench passes --grant-policy=strict)", suite.opts.GrantPolicy)
	}
	f := newPerfFixture(b, "gp-perf-grant")
	grant := f.objects(b, "grant.yaml")
	route := f.route(b, "echo-other", f.ns+"-other")
	f.measure(b, perf.Change{Name: "grant and cross-namespace route",
		Apply: apply(append(grant, route...)), Probe: f.probe(), Reflected: answeredBy("other")})
	var revoke, regrant []time.Duration
	for range b.N {
		for range changes / 2 {
			revoke = append(revoke, f.measure(b, perf.Change{Name: "revoke the grant",
				Apply: func(ctx context.Context) error { return suite.runner.Applier.Delete(ctx, grant) },
				Probe: f.probe(), Reflected: statusIs("500")}))
			regrant = append(regrant, f.measure(b, perf.Change{Name: "grant again",
				Apply: apply(grant), Probe: f.probe(), Reflected: answeredBy("other")}))
		}
	}
	reportDurations(b, "revoke", revoke)
	reportDurations(b, "grant", regrant)
}

// haproxyPort is where the reference HAProxy listens on the client's node
// (testdata/perf/haproxy.yaml): below the mesh's listener ports.
const haproxyPort = 14080

// haproxyImage is the image of testdata/perf/haproxy.yaml; the local node
// runs the host's haproxy for it (apt-get install haproxy).
const haproxyImage = "haproxy:2.6"

// dpTarget is one way to echo v1's pod that BenchmarkDataPlane measures.
type dpTarget struct{ name, url string }

// BenchmarkDataPlane compares three ways from the client pod to echo v1's
// pod: direct to its pod IP (untouched by the mesh); to Service echo,
// whose route sends the requests through the mesh; and through HAProxy, a
// reference proxy on the client's node in front of the same pod
// (testdata/perf/haproxy.yaml). Each is measured saturated (16 in flight,
// keep-alive) for requests per second and CPU time per request, and paced
// at 1000 requests per second for latency, in alternating rounds. The
// latency goals are judged on the pooled latencies of all rounds, with
// bootstrap confidence intervals: the mesh's added p99 against the fixed
// +0.5 ms (kept from before the reference), and the mesh's p50 and p99
// against HAProxy's, measured in the same run; the mesh's requests per
// second are judged against HAProxy's, by the medians of the rounds. See
// docs/performance.md.
func BenchmarkDataPlane(b *testing.B) {
	ctx := context.Background()
	f := newPerfFixture(b, "gp-perf-dp")
	f.firstRoute(b, "v1")
	echo := f.pod(b, "app=echo,version=v1")
	client := f.pod(b, "app=gammaproof-client")
	svc, err := suite.runner.Client.CoreV1().Services(f.ns).Get(ctx, "echo", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		b.Fatalf("find Service echo's cluster IP: %v", err)
	}
	haproxy := f.haproxy(b, client, echo)
	// Every target is an address: a name would add a DNS lookup for each
	// new connection to one side only, and this measures the proxies.
	targets := []dpTarget{
		{"direct", fmt.Sprintf("http://%s:8080/", echo.Status.PodIP)},
		{"mesh", fmt.Sprintf("http://%s:8080/", svc.Spec.ClusterIP)},
		{"haproxy", fmt.Sprintf("http://%s/", net.JoinHostPort(haproxy.Status.HostIP, fmt.Sprint(haproxyPort)))},
	}
	cpu, why := f.cpuCgroups(b, client, echo, haproxy)
	if cpu == nil {
		b.Logf("CPU per request not measured: %s", why)
	}
	const rate = 1000
	loads := []struct {
		name string
		req  sample.Request
	}{
		{"saturated", sample.Request{Count: 5000, Concurrency: 16, FreshConnections: true}},
		{"1krps", sample.Request{Count: 3 * rate, Concurrency: 64, Rate: rate, FreshConnections: true, RecordLatencies: true}},
	}
	// A first, unmeasured batch to each target: the first requests after
	// an install pay for cold caches, connection pools and heap growth.
	for _, t := range targets {
		if _, err := perf.Load(ctx, f.sampler, sample.Request{URL: t.url, Count: 1000, Concurrency: 16}); err != nil {
			b.Fatalf("warm up %s: %v", t.name, err)
		}
	}
	// Rounds alternate the targets so that a noisy moment on a shared
	// machine does not favour one, and each round starts with another
	// target so that none always follows the same one.
	const rounds = 5
	runs := map[string][]perf.Throughput{}
	latencies := map[string][]float64{}
	used := map[string]perf.CPUTimes{} // load/target → CPU time of the rounds
	for round := range b.N * rounds {
		for _, l := range loads {
			for i := range targets {
				t := targets[(round+i)%len(targets)]
				req := l.req
				req.URL = t.url
				before, err := cpu.CPU()
				if err != nil {
					b.Fatal(err)
				}
				res, err := perf.Load(ctx, f.sampler, req)
				if err != nil {
					b.Fatal(err)
				}
				after, err := cpu.CPU()
				if err != nil {
					b.Fatal(err)
				}
				if res.Failed > 0 {
					b.Fatalf("%s %s: %d of %d requests failed: %s", l.name, t.name, res.Failed, res.Requests, res.Outcome)
				}
				key := l.name + "/" + t.name
				cpuNote := ""
				if cpu != nil {
					d := after.Sub(before)
					if used[key] == nil {
						used[key] = perf.CPUTimes{}
					}
					used[key].Add(d)
					cpuNote = fmt.Sprintf("  CPU %.0f µs/req", perf.PerRequest(d.Sum(cpuCounted...), res.Requests))
				}
				b.Logf("%-9s %-7s %6.0f req/s  p50 %.2f ms  p99 %.2f ms%s", l.name, t.name, res.RPS, res.P50, res.P99, cpuNote)
				runs[key] = append(runs[key], res)
				latencies[t.name] = append(latencies[t.name], res.Latencies...)
			}
		}
	}
	rps := func(target string) []float64 {
		var v []float64
		for _, r := range runs["saturated/"+target] {
			v = append(v, r.RPS)
		}
		return v
	}
	b.ReportMetric(perf.Median(rps("direct")), "direct-rps")
	b.ReportMetric(perf.Median(rps("mesh")), "mesh-rps")
	b.ReportMetric(perf.Median(rps("haproxy")), "haproxy-rps")
	b.ReportMetric(perf.Median(rps("mesh"))/perf.Median(rps("direct")), "rps-ratio")

	// Blocks of half a second of requests: a busy moment of the machine
	// slows a run of consecutive requests, which must be resampled
	// together (see stats.CompareQuantile).
	boot := stats.Bootstrap{Block: rate / 2, Seed: 1}
	compare := func(a, bName string, q float64) stats.QuantileDiff {
		d, err := stats.CompareQuantile(latencies[a], latencies[bName], q, boot)
		if err != nil {
			b.Fatalf("%s vs %s, p%g: %v", a, bName, 100*q, err)
		}
		return d
	}
	p50, p99 := compare("direct", "mesh", 0.50), compare("direct", "mesh", 0.99)
	const goal = 0.5 // ms of added p99
	b.Logf("at %d req/s, %d requests each, direct vs mesh, ms: %v; %v: goal ≤ +%.1f ms %s",
		rate, len(latencies["direct"]), p50, p99, goal, perf.Judge(p99, goal))
	b.ReportMetric(p50.Diff, "added-p50-ms@1k")
	b.ReportMetric(p99.A, "direct-p99-ms@1k")
	b.ReportMetric(p99.B, "mesh-p99-ms@1k")
	b.ReportMetric(p99.Diff, "added-p99-ms@1k")
	b.ReportMetric(p99.Lo, "added-p99-lo-ms@1k")
	b.ReportMetric(p99.Hi, "added-p99-hi-ms@1k")

	// Against HAProxy: both proxies' added latency over the same direct
	// requests, and the verdict from comparing mesh with HAProxy directly
	// (mesh added ≤ HAProxy added ⇔ mesh quantile ≤ HAProxy quantile, as
	// both add to the same direct one).
	for _, q := range []struct {
		name string
		q    float64
		mesh stats.QuantileDiff
	}{{"p50", 0.50, p50}, {"p99", 0.99, p99}} {
		mesh, ref, vs := q.mesh, compare("direct", "haproxy", q.q), compare("haproxy", "mesh", q.q)
		b.Logf("verdict %s at %d req/s: mesh added %s, HAProxy added %s; mesh − HAProxy %+.3f ms (%.0f%% interval %+.3f to %+.3f): goal mesh ≤ HAProxy %s",
			q.name, rate, added(mesh), added(ref), vs.Diff, 100*vs.Confidence, vs.Lo, vs.Hi, perf.Judge(vs, 0))
		b.ReportMetric(ref.B, "haproxy-"+q.name+"-ms@1k")
		b.ReportMetric(ref.Diff, "haproxy-added-"+q.name+"-ms@1k")
		b.ReportMetric(vs.Diff, "mesh-minus-haproxy-"+q.name+"-ms@1k")
		b.ReportMetric(vs.Lo, "mesh-minus-haproxy-"+q.name+"-lo-ms@1k")
		b.ReportMetric(vs.Hi, "mesh-minus-haproxy-"+q.name+"-hi-ms@1k")
	}
	vsRPS, err := perf.CompareRPS(rps("haproxy"), rps("mesh"))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("verdict requests per second, saturated, HAProxy vs mesh: %v: goal mesh ≥ HAProxy %s", vsRPS, vsRPS.Verdict)
	b.ReportMetric(vsRPS.Ratio, "mesh-vs-haproxy-rps-ratio")
	b.ReportMetric(vsRPS.MinRatio, "mesh-vs-haproxy-rps-ratio-min")
	b.ReportMetric(vsRPS.MaxRatio, "mesh-vs-haproxy-rps-ratio-max")

	if cpu != nil {
		for _, l := range loads {
			reportCPU(b, l.name, targets, runs, used, cpu)
		}
	}
}

// added formats a proxy's added latency: the difference and its interval.
func added(d stats.QuantileDiff) string {
	return fmt.Sprintf("%+.3f ms (%.3f vs %.3f, %.0f%% interval %+.3f to %+.3f)", d.Diff, d.A, d.B, 100*d.Confidence, d.Lo, d.Hi)
}

// The cgroups BenchmarkDataPlane reads. cpuCounted is the set whose CPU
// time is divided by the requests, the same for every target: the pods a
// request may pass through. cpuAllPods is every pod of the node, a check
// that no busy pod was left out.
const (
	cpuClient   = "client"
	cpuEcho     = "echo"
	cpuNodeMesh = "node agent"
	cpuHAProxy  = "haproxy"
	cpuAllPods  = "all pods"
)

var cpuCounted = []string{cpuClient, cpuEcho, cpuNodeMesh, cpuHAProxy}

// reportCPU logs and reports the CPU time per request of each target under
// load, of the counted pods together and of each.
func reportCPU(b *testing.B, load string, targets []dpTarget, runs map[string][]perf.Throughput, used map[string]perf.CPUTimes, cg perf.Cgroups) {
	counted := "client + echo v1 + node agent + HAProxy pods"
	if _, ok := cg[cpuNodeMesh]; !ok {
		counted = "client + echo v1 + HAProxy pods (the mesh's node agent is not known for --implementation=existing: see all pods)"
	}
	var parts []string
	for _, t := range targets {
		key := load + "/" + t.name
		n := 0
		for _, r := range runs[key] {
			n += r.Requests
		}
		u := used[key]
		per := func(names ...string) float64 { return perf.PerRequest(u.Sum(names...), n) }
		parts = append(parts, fmt.Sprintf("%s %.0f (client %.0f, echo %.0f, node agent %.0f, HAProxy %.0f; all pods %.0f)",
			t.name, per(cpuCounted...), per(cpuClient), per(cpuEcho), per(cpuNodeMesh), per(cpuHAProxy), per(cpuAllPods)))
		if load == "saturated" {
			b.ReportMetric(per(cpuCounted...), t.name+"-cpu-us/req")
		}
	}
	b.Logf("CPU per request, %s, µs, %s: %s", load, counted, strings.Join(parts, "; "))
}

// pod returns the fixture's one running pod with labels selector.
func (f *perfFixture) pod(tb testing.TB, selector string) *corev1.Pod {
	tb.Helper()
	pods, err := suite.runner.Client.CoreV1().Pods(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		tb.Fatalf("find pod %s in %s: %v", selector, f.ns, err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && p.Status.PodIP != "" && p.Status.HostIP != "" {
			return p
		}
	}
	tb.Fatalf("no running pod %s in %s (%d pods)", selector, f.ns, len(pods.Items))
	return nil
}

// haproxy starts HAProxy (testdata/perf/haproxy.yaml) on the client's
// node, in front of echo's pod, and returns its pod once it is ready.
func (f *perfFixture) haproxy(tb testing.TB, client, echo *corev1.Pod) *corev1.Pod {
	tb.Helper()
	if suite.opts.Env == report.EnvLocal {
		// The local node would leave the pod waiting with the same error.
		if err := node.CheckImage(filepath.Join(repo.Root(), "bin"), haproxyImage); err != nil {
			tb.Fatalf("HAProxy, the reference proxy: %v", err)
		}
	}
	objs := f.objects(tb, "haproxy.yaml", "HAPROXY_IMAGE", haproxyImage, "NODE_NAME", client.Spec.NodeName, "NODE_IP", client.Status.HostIP, "ECHO_POD_IP", echo.Status.PodIP)
	tb.Cleanup(func() {
		if err := suite.runner.Applier.Delete(context.Background(), objs); err != nil {
			tb.Logf("remove HAProxy: %v", err)
		}
	})
	ctx := context.Background()
	if err := suite.runner.Applier.Apply(ctx, objs, false); err != nil {
		tb.Fatal(err)
	}
	w := scenario.PodSelector{Namespace: f.ns, Selector: "app=haproxy"}
	if err := suite.runner.Wait(ctx, scenario.Wait{PodsReady: &w}); err != nil {
		tb.Fatalf("HAProxy (image %s) did not get ready: %v", haproxyImage, err)
	}
	return f.pod(tb, "app=haproxy")
}

// cpuCgroups returns the cgroups whose CPU time BenchmarkDataPlane
// reads, or nil and why not: they are read from this machine's cgroup
// tree, where the local cluster's node keeps a cgroup pod<uid> per pod
// under the directory its Node's annotation names.
func (f *perfFixture) cpuCgroups(tb testing.TB, client, echo, haproxy *corev1.Pod) (perf.Cgroups, string) {
	tb.Helper()
	if suite.opts.Env != report.EnvLocal {
		return nil, fmt.Sprintf("it reads the pods' cgroups on this machine, which only --env=%s runs them on (this run: --env=%s)", report.EnvLocal, suite.opts.Env)
	}
	ctx := context.Background()
	n, err := suite.runner.Client.CoreV1().Nodes().Get(ctx, client.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		tb.Fatalf("get the client's node: %v", err)
	}
	parent := n.Annotations[cgroup2.ParentAnnotation]
	if parent == "" {
		return nil, fmt.Sprintf("node %s has no %s annotation (not the local cluster's node)", n.Name, cgroup2.ParentAnnotation)
	}
	if parent, err = cgroup2.Abs(parent); err != nil {
		tb.Fatalf("node %s's cgroup parent: %v", n.Name, err)
	}
	podDir := func(p *corev1.Pod) string { return filepath.Join(parent, "pod"+string(p.UID)) }
	cg := perf.Cgroups{cpuClient: podDir(client), cpuEcho: podDir(echo), cpuHAProxy: podDir(haproxy), cpuAllPods: parent}
	if suite.opts.Implementation == ImplGammaproof {
		agents, err := suite.runner.Client.CoreV1().Pods("gammaproof-system").List(ctx, metav1.ListOptions{
			LabelSelector: "app.kubernetes.io/name=gamma-node", FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil || len(agents.Items) != 1 {
			tb.Fatalf("find the node agent on %s: %v (%d pods)", n.Name, err, len(agents.Items))
		}
		cg[cpuNodeMesh] = podDir(&agents.Items[0])
	}
	if _, err := cg.CPU(); err != nil {
		tb.Fatalf("read the pods' CPU time: %v", err)
	}
	return cg, ""
}

// TestControllerRestartUnderLoad kills gammaproof's controller while a
// client sends a steady stream of requests, each on a new connection,
// through a route: no request may fail (the node proxies keep serving
// their last configuration), and once the controller is back a route
// change converges again.
func TestControllerRestartUnderLoad(t *testing.T) {
	if suite.opts.Implementation != ImplGammaproof {
		t.Skipf("SKIP: kills gammaproof's controller; this run tests --implementation=%s", suite.opts.Implementation)
	}
	f := newPerfFixture(t, "gp-perf-restart")
	f.firstRoute(t, "v2")

	ctx := context.Background()
	var load perf.Throughput
	var loadErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		// 20 s at 200 requests per second, each on a new connection.
		load, loadErr = perf.Load(ctx, f.sampler, sample.Request{URL: "http://echo:8080/", Count: 4000, Concurrency: 16, Rate: 200, NewConnectionPerRequest: true})
	})
	time.Sleep(3 * time.Second)
	pods := suite.runner.Client.CoreV1().Pods("gammaproof-system")
	const selector = "app.kubernetes.io/name=gamma-controller"
	old, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(old.Items) == 0 {
		t.Fatalf("find the controller pod: %v", err)
	}
	grace := int64(0)
	for _, p := range old.Items {
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			t.Fatalf("kill controller pod %s: %v", p.Name, err)
		}
		t.Logf("killed controller pod %s", p.Name)
	}
	killed := time.Now()
	if err := suite.runner.Wait(ctx, scenario.Wait{PodsReady: &scenario.PodSelector{Namespace: "gammaproof-system", Selector: selector}}); err != nil {
		t.Fatalf("controller did not come back: %v", err)
	}
	t.Logf("controller ready again %.1fs after the kill", time.Since(killed).Seconds())
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if load.Requests != 4000 || load.Failed != 0 {
		t.Errorf("under load while the controller restarted: %d of %d requests failed, want 0 of 4000: %s", load.Failed, load.Requests, load.Outcome)
	}
	took := f.measure(t, perf.Change{Name: "route to v1 after the restart", Apply: apply(f.route(t, "echo-v1", "")), Probe: f.probe(), Reflected: answeredBy("v1")})
	t.Logf("load while the controller restarted: %s; a route change after the restart took %v", load.Outcome, took.Round(time.Millisecond))
}
