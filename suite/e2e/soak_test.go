//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gammaproof/gammaproof/suite/perf"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
)

// soakRoute is one route the soak sends through and the backends it may
// answer from.
type soakRoute struct {
	name, url string
	named     []string
}

// window is a declared window: errors in batches overlapping it are
// expected (a pod killed, a grant revoked).
type window struct {
	start, end time.Time
	why        string
}

// procSample is one reading of a component's process metrics.
type procSample struct {
	at         time.Duration
	rss        float64 // bytes
	goroutines float64
}

// soakDuration is $SOAK_DURATION, default 60s.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second {
		t.Fatalf("SOAK_DURATION=%q: give a Go duration of at least 30s (e.g. 10m)", v)
	}
	return d
}

// readProc reads process_resident_memory_bytes and go_goroutines from a
// Prometheus endpoint.
func readProc(ctx context.Context, c *http.Client, url string) (rss, goroutines float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("read metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("read metrics %s: %w", url, err)
	}
	found := 0
	for line := range strings.SplitSeq(string(body), "\n") {
		for name, dst := range map[string]*float64{"process_resident_memory_bytes ": &rss, "go_goroutines ": &goroutines} {
			if v, ok := strings.CutPrefix(line, name); ok {
				if *dst, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return 0, 0, fmt.Errorf("parse %q from %s: %w", line, url, err)
				}
				found++
			}
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("%s has no process_resident_memory_bytes or go_goroutines", url)
	}
	return rss, goroutines, nil
}

// flat reports whether a series did not grow: the largest value of its
// last quarter is at most 25% (plus slack) above the largest of its first
// quarter.
func flat(xs []float64, slack float64) bool {
	if len(xs) < 4 {
		return true
	}
	q := len(xs) / 4
	return slices.Max(xs[len(xs)-q:]) <= slices.Max(xs[:q])*1.25+slack
}

// TestSoakWithChurn sends a steady 200 requests per second through two
// routes for SOAK_DURATION (default 60s) while, every 3 s, a weight
// changes, echo-v2 scales up or down, an echo-other pod is killed, or the
// ReferenceGrant both routes need is deleted or restored. It requires 0
// answers from a backend a route does not name, 0 failed requests outside
// the declared windows (a killed pod: 10 s; a scale-down: 5 s; a deleted
// grant: until 3 s after it is back), and flat memory and goroutines of
// the controller and the node agent, read from their metrics every 5 s
// (local cluster only). docs/robustness.md records the figures.
func TestSoakWithChurn(t *testing.T) {
	if suite.opts.Implementation != ImplGammaproof {
		t.Skipf("SKIP: reads gammaproof's process metrics; this run tests --implementation=%s", suite.opts.Implementation)
	}
	if suite.opts.Env != report.EnvLocal {
		t.Fatalf("the soak reads the node agent's and controller's metrics from this host: run it with --env=local")
	}
	dur := soakDuration(t)
	f := newPerfFixture(t, "gp-soak")
	ctx := context.Background()
	grant := f.objects(t, "grant.yaml")
	split := func(w2, wo int) []*unstructured.Unstructured {
		return decodeFixture(t, splitRouteWeights(w2, wo), f.ns)
	}
	f.measure(t, perf.Change{Name: "grant, split route and route to echo-other",
		Apply: apply(slices.Concat(grant, split(50, 50), f.route(t, "echo-other", f.ns+"-other"))),
		Probe: f.probe(), Reflected: answeredBy("other")})
	var routes []soakRoute
	for _, r := range []struct {
		svc   string
		named []string
	}{{"echo-v1", []string{"v2", "other"}}, {"echo", []string{"other"}}} {
		svc, err := suite.runner.Client.CoreV1().Services(f.ns).Get(ctx, r.svc, metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP == "" {
			t.Fatalf("find Service %s's cluster IP: %v", r.svc, err)
		}
		routes = append(routes, soakRoute{name: r.svc, url: fmt.Sprintf("http://%s:8080/", svc.Spec.ClusterIP), named: r.named})
	}
	ctlPods, err := suite.runner.Client.CoreV1().Pods("gammaproof-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gamma-controller"})
	if err != nil || len(ctlPods.Items) == 0 || ctlPods.Items[0].Status.PodIP == "" {
		t.Fatalf("find the controller pod's IP: %v", err)
	}
	metrics := map[string]string{
		"controller": fmt.Sprintf("http://%s:8080/metrics", ctlPods.Items[0].Status.PodIP),
		"node":       "http://127.0.0.1:15020/metrics",
	}

	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup

	// Load: batches of 50 at 200 req/s, the routes in turn, new connections.
	type soakBatch struct {
		batch
		route int
	}
	var bs []soakBatch
	var loadErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := routes[i%len(routes)]
			b := soakBatch{batch: batch{start: time.Now()}, route: i % len(routes)}
			res, err := f.sampler.Sample(ctx, sample.Request{URL: r.url, Count: 50, Concurrency: 16, Rate: 200,
				NewConnectionPerRequest: true, Timeout: sample.Duration(2 * time.Second)})
			if err != nil {
				loadErr = err
				return
			}
			b.end, b.res, b.requests = time.Now(), res, res.Requests
			b.failed = res.Requests - res.ByStatus["200"]
			for be, n := range res.ByBackend {
				if !slices.Contains(r.named, be) {
					if b.wrong == nil {
						b.wrong = map[string]int{}
					}
					b.wrong[be] += n
				}
			}
			bs = append(bs, b)
		}
	})

	// Process metrics every 5 s.
	samples := map[string][]procSample{}
	var metricsErr error
	wg.Go(func() {
		c := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			for name, url := range metrics {
				rss, g, err := readProc(ctx, c, url)
				if err != nil {
					metricsErr = err
					return
				}
				samples[name] = append(samples[name], procSample{at: time.Since(start), rss: rss, goroutines: g})
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	// Churn every 3 s, in a fixed cycle.
	var windows []window
	var churned []string
	scale := func(n int) error {
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
		_, err := suite.runner.Client.AppsV1().Deployments(f.ns).Patch(ctx, "echo-v2", types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	weights := [][2]int{{90, 10}, {10, 90}, {100, 0}, {0, 100}, {50, 50}}
	steps := []struct {
		name string
		do   func(n int) (time.Duration, error) // declared window length, -1: until the grant is back
	}{
		{"weights", func(n int) (time.Duration, error) {
			w := weights[n%len(weights)]
			return 0, apply(split(w[0], w[1]))(ctx)
		}},
		{"scale echo-v2 to 2", func(int) (time.Duration, error) { return 0, scale(2) }},
		{"kill an echo-other pod", func(int) (time.Duration, error) {
			pods, err := suite.runner.Client.CoreV1().Pods(f.ns+"-other").List(ctx, metav1.ListOptions{LabelSelector: "app=echo-other"})
			if err != nil {
				return 0, err
			}
			grace := int64(0)
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
					return 10 * time.Second, suite.runner.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
				}
			}
			return 0, nil
		}},
		{"scale echo-v2 to 1", func(int) (time.Duration, error) { return 5 * time.Second, scale(1) }},
		{"delete the grant", func(int) (time.Duration, error) { return -1, suite.runner.Applier.Delete(ctx, grant) }},
		{"restore the grant", func(int) (time.Duration, error) { return 3 * time.Second, apply(grant)(ctx) }},
	}
	var churnErr error
	var grantGone time.Time
	for n := 0; time.Since(start) < dur; n++ {
		time.Sleep(3 * time.Second)
		s := steps[n%len(steps)]
		at := time.Now()
		w, err := s.do(n / len(steps))
		if err != nil {
			churnErr = fmt.Errorf("churn %q: %w", s.name, err)
			break
		}
		churned = append(churned, s.name)
		switch {
		case w < 0:
			grantGone = at
		case s.name == "restore the grant":
			windows = append(windows, window{grantGone, time.Now().Add(w), "grant deleted"})
			grantGone = time.Time{}
		case w > 0:
			windows = append(windows, window{at, time.Now().Add(w), s.name})
		}
	}
	if !grantGone.IsZero() {
		if err := apply(grant)(ctx); err != nil && churnErr == nil {
			churnErr = err
		}
		windows = append(windows, window{grantGone, time.Now().Add(3 * time.Second), "grant deleted"})
	}
	time.Sleep(5 * time.Second) // A clean tail after the last change.
	close(stop)
	wg.Wait()
	for _, err := range []error{churnErr, loadErr, metricsErr} {
		if err != nil {
			t.Fatal(err)
		}
	}

	var requests, wrong, declared, unexpected int
	wrongBy, unexpectedBy := map[string]int{}, map[string]int{}
	for _, b := range bs {
		requests += b.requests
		wrong += b.wrongCount()
		for k, v := range b.wrong {
			wrongBy[routes[b.route].name+":"+k] += v
		}
		if b.failed == 0 {
			continue
		}
		in := slices.ContainsFunc(windows, func(w window) bool { return b.start.Before(w.end) && b.end.After(w.start) })
		if in {
			declared += b.failed
			continue
		}
		unexpected += b.failed
		for k, v := range b.res.Errors {
			unexpectedBy[fmt.Sprintf("%s at %.1fs: %s", routes[b.route].name, b.start.Sub(start).Seconds(), k)] += v
		}
		for k, v := range b.res.ByStatus {
			if k != "200" {
				unexpectedBy[fmt.Sprintf("%s at %.1fs: %s", routes[b.route].name, b.start.Sub(start).Seconds(), k)] += v
			}
		}
	}
	elapsed := time.Since(start)
	t.Logf("RESULT soak %v: %d requests (%.0f req/s) through %d routes, %d changes; %d answered by a wrong backend %v; %d failed in %d declared windows; %d failed outside them %v",
		dur, requests, float64(requests)/elapsed.Seconds(), len(routes), len(churned), wrong, wrongBy, declared, len(windows), unexpected, unexpectedBy)
	for _, name := range []string{"controller", "node"} {
		var rss, g []float64
		var line strings.Builder
		for _, s := range samples[name] {
			rss, g = append(rss, s.rss), append(g, s.goroutines)
			fmt.Fprintf(&line, " %.0fs:%.1fMiB/%.0f", s.at.Seconds(), s.rss/(1<<20), s.goroutines)
		}
		t.Logf("RESULT soak %s RSS/goroutines:%s", name, line.String())
		if !flat(rss, 16<<20) {
			t.Errorf("%s memory grew: %s", name, line.String())
		}
		if !flat(g, 20) {
			t.Errorf("%s goroutines grew: %s", name, line.String())
		}
	}
	if wrong > 0 {
		t.Errorf("%d requests answered by a backend the route does not name: %v", wrong, wrongBy)
	}
	if unexpected > 0 {
		t.Errorf("%d requests failed outside the declared windows: %v", unexpected, unexpectedBy)
	}
}
