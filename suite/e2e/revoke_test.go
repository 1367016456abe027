//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gammaproof/gammaproof/internal/controllername"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/suite/perf"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
)

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// refsResolved returns the status of the ResolvedRefs condition gammaproof
// set on route ns/name for parent Service parent, "" when there is none.
func refsResolved(ctx context.Context, ns, name, parent string) (string, error) {
	u, err := suite.runner.Dynamic.Resource(httpRoutes).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get HTTPRoute %s/%s: %w", ns, name, err)
	}
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	for _, p := range parents {
		pm, _ := p.(map[string]any)
		ctl, _, _ := unstructured.NestedString(pm, "controllerName")
		ref, _, _ := unstructured.NestedString(pm, "parentRef", "name")
		if ctl != controllername.Gammaproof || ref != parent {
			continue
		}
		conds, _, _ := unstructured.NestedSlice(pm, "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "ResolvedRefs" {
				s, _ := cm["status"].(string)
				return s, nil
			}
		}
	}
	return "", nil
}

// nodeMetricsURL is gamma-node's metrics endpoint as the test process on
// the local cluster's host reaches it (hostNetwork, --metrics-address=:15020).
const nodeMetricsURL = "http://127.0.0.1:15020/metrics"

// rdsAcks returns gamma-node's count of accepted RouteConfiguration
// updates (gammaproof_proxy_xds_acks_total{type="rds"}).
func rdsAcks(ctx context.Context, c *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nodeMetricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read gamma-node metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read gamma-node metrics: %w", err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `gammaproof_proxy_xds_acks_total{type="rds"} `); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("parse %q: %w", line, err)
			}
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("no gammaproof_proxy_xds_acks_total{type=\"rds\"} in gamma-node's metrics at %s", nodeMetricsURL)
}

// watchNodeRDS polls gamma-node's metrics every 10 ms from now and returns
// a function that gives the time the node first accepted a new
// RouteConfiguration, zero if it did not (or its metrics cannot be read
// from here: only on the local cluster).
func watchNodeRDS(ctx context.Context, t *testing.T) (applied func() time.Time) {
	if suite.opts.Env != report.EnvLocal {
		t.Logf("gamma-node's metrics are read on the local cluster only (--env=%s): the time the node applied the new route is not measured", suite.opts.Env)
		return func() time.Time { return time.Time{} }
	}
	c := &http.Client{Timeout: time.Second}
	base, err := rdsAcks(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	done := make(chan time.Time, 1)
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if n, err := rdsAcks(ctx, c); err == nil && n > base {
				done <- time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- time.Time{}
	}()
	return sync.OnceValue(func() time.Time { return <-done })
}

// revokeBatch is a short batch of requests: 25 at 500 per second, so an
// answer is placed in time to within about 50 ms.
const revokeBatch = 25

// TestGrantRevocationUnderTraffic deletes, under the strict grant policy,
// the ReferenceGrant that lets route perf send Service echo's traffic to
// echo-other in another namespace, while a client sends 500 requests per
// second. It times the deletion, the route status showing ResolvedRefs
// False (the controller observed it) and the last answer from echo-other,
// and requires that echo-other answers nothing once the status changed
// plus one second (the snapshot's way to the node; the measured window is
// reported in ms), and that every request then gets 500. On the local
// cluster it also reads gamma-node's metrics every 10 ms for the moment the
// node accepted the new RouteConfiguration, and requires that echo-other
// answers nothing in batches started after it.
// docs/robustness.md records the figures.
func TestGrantRevocationUnderTraffic(t *testing.T) {
	if grantpolicy.Policy(suite.opts.GrantPolicy) != grantpolicy.Strict {
		t.Skipf("SKIP: grant revocation needs the strict grant policy; this run uses %q (pass --grant-policy=strict)", suite.opts.GrantPolicy)
	}
	f := newPerfFixture(t, "gp-revoke")
	ctx := context.Background()
	grant := f.objects(t, "grant.yaml")
	route := f.route(t, "echo-other", f.ns+"-other")
	f.measure(t, perf.Change{Name: "grant and cross-namespace route",
		Apply: apply(append(grant, route...)), Probe: f.probe(), Reflected: answeredBy("other")})
	svc, err := suite.runner.Client.CoreV1().Services(f.ns).Get(ctx, "echo", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" {
		t.Fatalf("find Service echo's cluster IP: %v", err)
	}
	url := fmt.Sprintf("http://%s:8080/", svc.Spec.ClusterIP)

	for _, keepAlive := range []bool{false, true} {
		conns := "new-connections"
		if keepAlive {
			conns = "keep-alive"
		}
		t.Run(conns, func(t *testing.T) {
			if err := apply(grant)(ctx); err != nil {
				t.Fatal(err)
			}
			f.measure(t, perf.Change{Name: "grant in place", Apply: func(context.Context) error { return nil },
				Probe: f.probe(), Reflected: answeredBy("other")})

			stop := make(chan struct{})
			var bs []batch
			var loadErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					b := batch{start: time.Now()}
					res, err := f.sampler.Sample(ctx, sample.Request{URL: url, Count: revokeBatch, Concurrency: 16, Rate: loadRate,
						NewConnectionPerRequest: !keepAlive, Timeout: sample.Duration(2 * time.Second)})
					if err != nil {
						loadErr = err
						return
					}
					b.end, b.res, b.requests = time.Now(), res, res.Requests
					bs = append(bs, b)
				}
			})
			time.Sleep(2 * time.Second)
			nodeApplied := watchNodeRDS(ctx, t)
			deleteStart := time.Now()
			if err := suite.runner.Applier.Delete(ctx, grant); err != nil {
				close(stop)
				wg.Wait()
				t.Fatal(err)
			}
			deleted := time.Now()
			// The controller observed the deletion when the route's status
			// says ResolvedRefs False; polled every 10 ms.
			var observed time.Time
			for observed.IsZero() && time.Since(deleted) < 30*time.Second {
				s, err := refsResolved(ctx, f.ns, "perf", "echo")
				if err != nil {
					t.Log(err)
				}
				if s == "False" {
					observed = time.Now()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
			time.Sleep(3 * time.Second)
			close(stop)
			wg.Wait()
			if loadErr != nil {
				t.Fatal(loadErr)
			}
			if observed.IsZero() {
				t.Fatalf("route status did not show ResolvedRefs False within 30 s of the grant's deletion")
			}
			applied := nodeApplied()

			// Answers from echo-other: the last batch holding one, and the
			// count in batches that started after the status changed.
			var lastOther, first500 time.Time
			afterStatus, afterStatusGrace, afterNode, total, other := 0, 0, 0, 0, 0
			for _, b := range bs {
				n := b.res.ByBackend["other"]
				total += b.requests
				other += n
				if n > 0 && b.end.After(deleteStart) {
					lastOther = b.end
				}
				if first500.IsZero() && b.res.ByStatus["500"] > 0 {
					first500 = b.end
				}
				if !b.start.Before(observed) {
					afterStatus += n
				}
				if !b.start.Before(observed.Add(time.Second)) {
					afterStatusGrace += n
				}
				if !applied.IsZero() && !b.start.Before(applied) {
					afterNode += n
				}
			}
			ms := func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
			window := "none after the deletion"
			if !lastOther.IsZero() {
				window = fmt.Sprintf("%s after the deletion, %s after the status changed", ms(lastOther.Sub(deleteStart)), ms(lastOther.Sub(observed)))
			}
			node := "not measured"
			if !applied.IsZero() {
				node = ms(applied.Sub(deleteStart)) + " after the delete call"
				if !lastOther.IsZero() {
					window += fmt.Sprintf(", %s after the node applied the new route", ms(lastOther.Sub(applied)))
				}
			}
			t.Logf("RESULT grant-revocation %s: %d requests; status ResolvedRefs=False %s after the delete call; node applied the new route %s; first 500 within %s; last answer from echo-other %s; %d answers from echo-other in batches started after the status changed, %d after the node applied the new route",
				conns, total, ms(observed.Sub(deleteStart)), node, ms(first500.Sub(deleteStart)), window, afterStatus, afterNode)
			if suite.opts.Env == report.EnvLocal && applied.IsZero() {
				t.Errorf("gamma-node accepted no new RouteConfiguration within 30 s of the grant's deletion")
			}
			if afterNode > 0 {
				t.Errorf("echo-other answered %d requests in batches that started after the node applied the route without the grant", afterNode)
			}
			if afterStatusGrace > 0 {
				t.Errorf("echo-other answered %d requests more than 1 s after the route status showed the grant revoked", afterStatusGrace)
			}
			if last := bs[len(bs)-1]; last.res.ByStatus["500"] != last.requests {
				t.Errorf("after the revocation the last batch got %v, want every request 500", last.res.ByStatus)
			}
		})
	}
}
