//go:build e2e

package e2e

import (
	"context"
	"embed"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/suite/perf"
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

// BenchmarkDataPlane compares the client pod's requests to echo v1's pod
// IP (direct, untouched by the mesh) with requests to Service echo, whose
// route sends them through the mesh to the same pod: saturated (16 in
// flight, keep-alive) for requests per second, and paced at 1000 requests
// per second for latency. The latency goal (at most +0.5 ms p99 at 1000
// requests per second) is judged on the pooled latencies of all rounds,
// with a bootstrap confidence interval, not on one round's p99.
func BenchmarkDataPlane(b *testing.B) {
	f := newPerfFixture(b, "gp-perf-dp")
	f.firstRoute(b, "v1")
	pods, err := suite.runner.Client.CoreV1().Pods(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=echo,version=v1"})
	if err != nil || len(pods.Items) == 0 || pods.Items[0].Status.PodIP == "" {
		b.Fatalf("find echo-v1's pod IP: %v (%d pods)", err, len(pods.Items))
	}
	svc, err := suite.runner.Client.CoreV1().Services(f.ns).Get(context.Background(), "echo", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		b.Fatalf("find Service echo's cluster IP: %v", err)
	}
	// Both targets are addresses: a name would add a DNS lookup for each
	// new connection to the mesh side only, and this measures the proxy.
	targets := []struct{ name, url string }{
		{"direct", fmt.Sprintf("http://%s:8080/", pods.Items[0].Status.PodIP)},
		{"mesh", fmt.Sprintf("http://%s:8080/", svc.Spec.ClusterIP)},
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
		if _, err := perf.Load(context.Background(), f.sampler, sample.Request{URL: t.url, Count: 1000, Concurrency: 16}); err != nil {
			b.Fatalf("warm up %s: %v", t.name, err)
		}
	}
	// Rounds alternate direct and mesh so that a noisy moment on a shared
	// machine does not favour one.
	const rounds = 5
	runs := map[string][]perf.Throughput{}
	latencies := map[string][]float64{}
	for range b.N * rounds {
		for _, l := range loads {
			for _, t := range targets {
				req := l.req
				req.URL = t.url
				res, err := perf.Load(context.Background(), f.sampler, req)
				if err != nil {
					b.Fatal(err)
				}
				if res.Failed > 0 {
					b.Fatalf("%s %s: %d of %d requests failed: %s", l.name, t.name, res.Failed, res.Requests, res.Outcome)
				}
				b.Logf("%-9s %-6s %6.0f req/s  p50 %.2f ms  p99 %.2f ms", l.name, t.name, res.RPS, res.P50, res.P99)
				key := l.name + "/" + t.name
				runs[key] = append(runs[key], res)
				latencies[t.name] = append(latencies[t.name], res.Latencies...)
			}
		}
	}
	rps := func(key string) float64 {
		return median(runs[key], func(t perf.Throughput) float64 { return t.RPS })
	}
	b.ReportMetric(rps("saturated/direct"), "direct-rps")
	b.ReportMetric(rps("saturated/mesh"), "mesh-rps")
	b.ReportMetric(rps("saturated/mesh")/rps("saturated/direct"), "rps-ratio")
	// Blocks of half a second of requests: a busy moment of the machine
	// slows a run of consecutive requests, which must be resampled
	// together (see stats.CompareQuantile).
	boot := stats.Bootstrap{Block: rate / 2, Seed: 1}
	p50, err := stats.CompareQuantile(latencies["direct"], latencies["mesh"], 0.50, boot)
	if err != nil {
		b.Fatal(err)
	}
	p99, err := stats.CompareQuantile(latencies["direct"], latencies["mesh"], 0.99, boot)
	if err != nil {
		b.Fatal(err)
	}
	const goal = 0.5 // ms of added p99
	b.Logf("at %d req/s, %d requests each, direct vs mesh, ms: %v; %v: goal ≤ +%.1f ms %s",
		rate, len(latencies["direct"]), p50, p99, goal, perf.Judge(p99, goal))
	b.ReportMetric(p50.Diff, "added-p50-ms@1k")
	b.ReportMetric(p99.A, "direct-p99-ms@1k")
	b.ReportMetric(p99.B, "mesh-p99-ms@1k")
	b.ReportMetric(p99.Diff, "added-p99-ms@1k")
	b.ReportMetric(p99.Lo, "added-p99-lo-ms@1k")
	b.ReportMetric(p99.Hi, "added-p99-hi-ms@1k")
}

// median returns the median of field over runs (the upper one for an even
// count).
func median(runs []perf.Throughput, field func(perf.Throughput) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = field(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
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
