package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/syncbuf"
	"github.com/gammaproof/gammaproof/suite/check"
	"github.com/gammaproof/gammaproof/suite/image"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"github.com/gammaproof/gammaproof/suite/verdict"
)

// Runner runs scenarios against one cluster. Its features may run
// concurrently: scenarios use disjoint namespaces, and at most Concurrency
// of them run at once.
type Runner struct {
	// Applier applies and deletes manifests.
	Applier *kubeapply.Applier
	// Client and Dynamic talk to the cluster.
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// REST is the client configuration exec checks use to reach the
	// pods/exec subresource. Optional: loaded from Kubeconfig.
	REST *rest.Config
	// Kubeconfig is the kubeconfig file REST is loaded from when REST is
	// nil.
	Kubeconfig string
	// ControllerName is whose route status counts; "" accepts any
	// controller's (an existing implementation's name is not known).
	ControllerName string
	// GrantPolicy of the implementation, spec or strict; "" when unknown:
	// then scenarios that need one policy are skipped.
	GrantPolicy string
	// Supported and Exempt features: a scenario needing a feature outside
	// Supported (when Supported is not empty) or inside Exempt is skipped.
	Supported, Exempt []string
	// Check tunes the statistics and convergence.
	Check check.Options
	// Sampler returns the sampler of a client pod. Optional: defaults to
	// the API server's pod proxy.
	Sampler func(ns, pod string, port int) sample.Sampler
	// Progress receives one line per scenario. Optional.
	Progress io.Writer
	// Concurrency bounds how many scenarios run at once when features run
	// in parallel; 0 means no bound.
	Concurrency int
	// ImageRegistry, when set, moves the scenarios' gammaproof/* images to
	// that registry (see [image.InRegistry]). Optional.
	ImageRegistry string

	mu      sync.Mutex
	results []report.Scenario
	slots   chan struct{}
}

// Results returns the outcomes recorded so far, by scenario name.
func (r *Runner) Results() []report.Scenario {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.results)
	slices.SortStableFunc(out, func(a, b report.Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// acquire takes a slot to run a scenario; the returned func gives it back.
func (r *Runner) acquire(ctx context.Context) (func(), error) {
	r.mu.Lock()
	if r.slots == nil && r.Concurrency > 0 {
		r.slots = make(chan struct{}, r.Concurrency)
	}
	slots := r.slots
	r.mu.Unlock()
	if slots == nil {
		return func() {}, nil
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free scenario slot: %w", ctx.Err())
	}
}

func (r *Runner) record(s report.Scenario) {
	r.mu.Lock()
	r.results = append(r.results, s)
	r.mu.Unlock()
	if r.Progress != nil {
		req := 0
		for _, c := range s.Checks {
			req += c.Requests
		}
		line := fmt.Sprintf("%-13s %-36s requests=%-6d %6.1fs", s.Verdict, s.Name, req, s.DurationSeconds)
		if s.Error != "" {
			line += "  " + firstLine(s.Error)
		}
		fmt.Fprintln(r.Progress, line)
	}
}

// SkipReason says why s does not run here, or "".
func (r *Runner) SkipReason(s *scenario.Scenario) string {
	if s.GrantPolicy != "" && s.GrantPolicy != r.GrantPolicy {
		if r.GrantPolicy == "" {
			return fmt.Sprintf("needs the %s grant policy; the implementation's policy is unknown", s.GrantPolicy)
		}
		return fmt.Sprintf("needs the %s grant policy; this run uses %s", s.GrantPolicy, r.GrantPolicy)
	}
	for _, f := range s.Features {
		if slices.Contains(r.Exempt, f) {
			return fmt.Sprintf("feature %s is exempt (--exempt-features)", f)
		}
		if len(r.Supported) > 0 && !slices.Contains(r.Supported, f) {
			return fmt.Sprintf("feature %s is not supported (--supported-features)", f)
		}
	}
	return ""
}

// Feature returns the e2e-framework feature of s, labelled with its
// profile and features.
func (r *Runner) Feature(s *scenario.Scenario) features.Feature {
	b := features.New(s.Name).WithLabel("profile", s.Profile).WithLabel("scenario", s.Name)
	for _, f := range s.Features {
		b = b.WithLabel("feature", f)
	}
	var applied []*unstructured.Unstructured
	b = b.Assess(s.Description, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		res := report.Scenario{
			Name: s.Name, Description: s.Description, UpstreamTest: s.Upstream,
			Profile: s.Profile, Core: s.Core, Features: s.Features,
		}
		if why := r.SkipReason(s); why != "" {
			res.Verdict, res.Error = verdict.Skip, why
			r.record(res)
			t.Skipf("SKIP %s: %s", s.Name, why)
			return ctx
		}
		release, err := r.acquire(ctx)
		if err != nil {
			res.Verdict, res.Error = verdict.Error, err.Error()
			r.record(res)
			t.Error(err)
			return ctx
		}
		defer release()
		start := time.Now()
		res.Verdict = verdict.Pass
		for _, st := range s.Steps {
			objs, err := r.runStep(ctx, s, st, applied, &res)
			applied = append(applied, objs...)
			if err != nil {
				res.Verdict, res.Error = verdict.Error, fmt.Sprintf("step %q: %v", st.Name, err)
				break
			}
		}
		for _, c := range res.Checks {
			if c.Verdict.Worse(res.Verdict) {
				res.Verdict = c.Verdict
			}
		}
		res.DurationSeconds = time.Since(start).Seconds()
		r.record(res)
		if res.Verdict != verdict.Pass {
			t.Errorf("%s: %s", s.Name, summary(res))
		}
		return ctx
	})
	b = b.Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		if err := r.Applier.Delete(ctx, dedupe(applied)); err != nil {
			t.Logf("clean up %s: %v", s.Name, err)
		}
		return ctx
	})
	return b.Feature()
}

func summary(s report.Scenario) string {
	if s.Error != "" {
		return s.Error
	}
	var parts []string
	for _, c := range s.Checks {
		if c.Verdict != verdict.Pass {
			parts = append(parts, fmt.Sprintf("%s [%s]: %s", c.Name, c.Verdict, c.Error))
		}
	}
	return strings.Join(parts, "; ")
}

// maxExecOutput bounds the output an exec check records.
const maxExecOutput = 16 << 10

// execObserved says what an exec check judged: for each expected string,
// on how many output lines it was found, then the whole output (its first
// 16 KiB, with how much more there was).
func execObserved(out string, contains []string) string {
	text := strings.TrimRight(out, "\n")
	lines := strings.Split(text, "\n")
	if text == "" {
		lines = nil
	}
	var b strings.Builder
	for i, want := range contains {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, want) {
				n++
			}
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q on %d of %d lines", want, n, len(lines))
	}
	if len(contains) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "output (%d lines):\n", len(lines))
	if len(text) > maxExecOutput {
		fmt.Fprintf(&b, "%s\n… %d more bytes", text[:maxExecOutput], len(text)-maxExecOutput)
	} else {
		b.WriteString(text)
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// runStep applies, deletes, waits and checks one step; it returns what it
// applied so the teardown can remove it. before is what earlier steps
// applied: after the waits, the status of every route applied so far and
// not deleted is recorded under this step.
func (r *Runner) runStep(ctx context.Context, s *scenario.Scenario, st scenario.Step, before []*unstructured.Unstructured, res *report.Scenario) ([]*unstructured.Unstructured, error) {
	var applied []*unstructured.Unstructured
	for _, f := range st.Apply {
		objs, err := s.Objects(f)
		if err != nil {
			return applied, err
		}
		for _, o := range objs {
			inRegistry(o.Object, r.ImageRegistry)
		}
		if err := r.Applier.Apply(ctx, objs, false); err != nil {
			return applied, err
		}
		applied = append(applied, objs...)
	}
	for _, f := range st.Delete {
		objs, err := s.Objects(f)
		if err != nil {
			return applied, err
		}
		if err := r.Applier.Delete(ctx, objs); err != nil {
			return applied, err
		}
	}
	for _, w := range st.WaitFor {
		if err := r.Wait(ctx, w); err != nil {
			return applied, err
		}
	}
	sofar := dedupe(append(slices.Clone(before), applied...))
	res.RouteStatus = append(res.RouteStatus, stepStatuses(st, r.routeStatuses(ctx, sofar))...)
	for _, e := range st.Exec {
		c := report.Check{Name: "exec " + strings.Join(e.Command, " "), Step: st.Name, Kind: report.CheckExact,
			Client: e.Namespace + "/" + e.Pod, Expected: "output contains " + strings.Join(e.Contains, ", ")}
		out, err := r.exec(ctx, e)
		c.Verdict, c.Observed = verdict.Pass, execObserved(out, e.Contains)
		if err != nil {
			c.Verdict, c.Error = verdict.Error, err.Error()
		} else {
			for _, want := range e.Contains {
				if !strings.Contains(out, want) {
					c.Verdict, c.Error = verdict.Fail, fmt.Sprintf("output lacks %q", want)
				}
			}
		}
		res.Checks = append(res.Checks, c)
	}
	opts := r.Check
	if opts.StatusCurrent == nil {
		opts.StatusCurrent = func(ctx context.Context) (bool, error) { return r.statusCurrent(ctx, sofar) }
	}
	for _, c := range st.Checks {
		port := c.From.Port
		if port == 0 {
			port = sample.DefaultClientPort
		}
		out := check.Run(ctx, r.sampler(c.From.Namespace, c.From.Pod, port), c, opts)
		res.Checks = append(res.Checks, check.Report(st.Name, c, out))
	}
	return applied, nil
}

func (r *Runner) sampler(ns, pod string, port int) sample.Sampler {
	if r.Sampler != nil {
		return r.Sampler(ns, pod, port)
	}
	return newPodSampler(r.Client, ns, pod, port)
}

// execTimeout bounds one exec check.
const execTimeout = 60 * time.Second

// exec runs e's command in its pod through the API server's pods/exec
// subresource, as kubectl exec does (WebSocket, falling back to SPDY for an
// API server without it), and returns stdout and stderr as they came. The
// container is the pod's kubectl.kubernetes.io/default-container, else its
// first. A command that exits non-zero is an error carrying its output.
func (r *Runner) exec(ctx context.Context, e scenario.Exec) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	where := e.Namespace + "/" + e.Pod
	cfg := r.REST
	if cfg == nil {
		c, err := clientcmd.BuildConfigFromFlags("", r.Kubeconfig)
		if err != nil {
			return "", fmt.Errorf("exec in %s: load kubeconfig %q: %w", where, r.Kubeconfig, err)
		}
		cfg = c
	}
	pod, err := r.Client.CoreV1().Pods(e.Namespace).Get(ctx, e.Pod, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", where, err)
	}
	container := pod.Annotations["kubectl.kubernetes.io/default-container"]
	if container == "" && len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	u := r.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.Namespace).Name(e.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: e.Command, Stdout: true, Stderr: true}, scheme.ParameterCodec).URL()
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", where, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", where, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", where, err)
	}
	var out syncbuf.Buffer // stdout and stderr, written concurrently
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}); err != nil {
		return out.String(), fmt.Errorf("exec %q in %s (container %s): %w: %s", strings.Join(e.Command, " "), where, container, err, firstLine(out.String()))
	}
	return out.String(), nil
}

// Wait polls until w holds (pods ready, a route condition), at most its
// timeout (default 90 s); the error says what was last seen.
func (r *Runner) Wait(ctx context.Context, w scenario.Wait) error {
	timeout := w.Timeout.Duration
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		var why string
		switch {
		case w.PodsReady != nil:
			ok, why = r.podsReady(ctx, *w.PodsReady)
		case w.RouteCondition != nil:
			ok, why = r.routeHas(ctx, *w.RouteCondition)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait %v: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %w: %s", ctx.Err(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *Runner) podsReady(ctx context.Context, p scenario.PodSelector) (bool, string) {
	pods, err := r.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: p.Selector})
	if err != nil {
		return false, fmt.Sprintf("list pods %s in %s: %v", p.Selector, p.Namespace, err)
	}
	ready := 0
	var notReady []string
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if podReady(&pod) {
			ready++
		} else {
			notReady = append(notReady, pod.Name+" "+podState(&pod))
		}
	}
	want := max(p.Count, 1)
	if ready >= want && len(notReady) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("pods %s in %s: %d ready, want %d; not ready: %s", p.Selector, p.Namespace, ready, want, strings.Join(notReady, ", "))
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podState(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return fmt.Sprintf("(%s: %s)", w.Reason, w.Message)
		}
	}
	return "(" + string(p.Status.Phase) + ")"
}

var routeResources = map[string]schema.GroupVersionResource{
	"HTTPRoute": {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
	"GRPCRoute": {Group: "gateway.networking.k8s.io", Version: "v1", Resource: "grpcroutes"},
}

// routeHas reports whether the route's status for the parent, written by
// the controller under test for the route's current generation, has the
// condition.
func (r *Runner) routeHas(ctx context.Context, rc scenario.RouteCondition) (bool, string) {
	u, err := r.Dynamic.Resource(routeResources[rc.Route.Kind]).Namespace(rc.Route.Namespace).Get(ctx, rc.Route.Name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Sprintf("get %s %s/%s: %v", rc.Route.Kind, rc.Route.Namespace, rc.Route.Name, err)
	}
	parentNS := rc.Parent.Namespace
	if parentNS == "" {
		parentNS = rc.Route.Namespace
	}
	seen := "no status for that parent yet"
	for _, ps := range parentStatuses(u, r.ControllerName) {
		if ps.name != rc.Parent.Name || ps.namespace != parentNS {
			continue
		}
		for _, c := range ps.conditions {
			if c.Type != rc.Type {
				continue
			}
			seen = fmt.Sprintf("%s=%s (%s, generation %d of %d)", c.Type, c.Status, c.Reason, c.ObservedGeneration, u.GetGeneration())
			if c.Status == rc.Status && (rc.Reason == "" || c.Reason == rc.Reason) && c.ObservedGeneration >= u.GetGeneration() {
				return true, ""
			}
		}
	}
	want := rc.Type + "=" + rc.Status
	if rc.Reason != "" {
		want += " (" + rc.Reason + ")"
	}
	return false, fmt.Sprintf("%s %s/%s parent %s/%s: want %s, have %s", rc.Route.Kind, rc.Route.Namespace, rc.Route.Name, parentNS, rc.Parent.Name, want, seen)
}

// statusCurrent reports whether every route among objs that still exists
// has a status from the controller under test, each condition of it
// observed at the route's current generation: what the controller says
// is about the route as it is now.
func (r *Runner) statusCurrent(ctx context.Context, objs []*unstructured.Unstructured) (bool, error) {
	for _, o := range objs {
		gvr, ok := routeResources[o.GetKind()]
		if !ok {
			continue
		}
		u, err := r.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // deleted by a step: nothing to be current about
		}
		if err != nil {
			return false, fmt.Errorf("route status of %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		parents := parentStatuses(u, r.ControllerName)
		if len(parents) == 0 {
			return false, nil
		}
		for _, ps := range parents {
			for _, c := range ps.conditions {
				if c.ObservedGeneration < u.GetGeneration() {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

type parentStatus struct {
	namespace, name, controller string
	port                        int64
	conditions                  []report.Condition
}

// parentStatuses reads status.parents of a route for Service parents,
// from controller ("" = any).
func parentStatuses(u *unstructured.Unstructured, controller string) []parentStatus {
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	var out []parentStatus
	for _, p := range parents {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		ctrl, _, _ := unstructured.NestedString(m, "controllerName")
		if controller != "" && ctrl != controller {
			continue
		}
		kind, _, _ := unstructured.NestedString(m, "parentRef", "kind")
		if kind != "Service" {
			continue
		}
		ps := parentStatus{controller: ctrl}
		ps.name, _, _ = unstructured.NestedString(m, "parentRef", "name")
		ps.namespace, _, _ = unstructured.NestedString(m, "parentRef", "namespace")
		if ps.namespace == "" {
			ps.namespace = u.GetNamespace()
		}
		ps.port, _, _ = unstructured.NestedInt64(m, "parentRef", "port")
		conds, _, _ := unstructured.NestedSlice(m, "conditions")
		for _, c := range conds {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			var rc report.Condition
			rc.Type, _, _ = unstructured.NestedString(cm, "type")
			rc.Status, _, _ = unstructured.NestedString(cm, "status")
			rc.Reason, _, _ = unstructured.NestedString(cm, "reason")
			rc.Message, _, _ = unstructured.NestedString(cm, "message")
			rc.ObservedGeneration, _, _ = unstructured.NestedInt64(cm, "observedGeneration")
			ps.conditions = append(ps.conditions, rc)
		}
		out = append(out, ps)
	}
	return out
}

// routeStatuses records the status of every route among objs, which
// holds each object once.
func (r *Runner) routeStatuses(ctx context.Context, objs []*unstructured.Unstructured) []report.RouteStatus {
	var out []report.RouteStatus
	for _, o := range objs {
		gvr, ok := routeResources[o.GetKind()]
		if !ok {
			continue
		}
		u, err := r.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			continue
		}
		for _, ps := range parentStatuses(u, r.ControllerName) {
			parent := ps.namespace + "/" + ps.name
			if ps.port != 0 {
				parent += fmt.Sprintf(":%d", ps.port)
			}
			out = append(out, report.RouteStatus{Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(),
				Parent: parent, Controller: ps.controller, Conditions: ps.conditions})
		}
	}
	return out
}

// stepStatuses marks the route statuses read after step st's waits: each
// gets the step's name, and a condition the step waited for (route,
// parent, type, status and, if the wait names one, reason) is Expected.
func stepStatuses(st scenario.Step, statuses []report.RouteStatus) []report.RouteStatus {
	for i := range statuses {
		rs := &statuses[i]
		rs.Step = st.Name
		for j := range rs.Conditions {
			c := &rs.Conditions[j]
			for _, w := range st.WaitFor {
				if rc := w.RouteCondition; rc != nil && waitedFor(*rs, *c, *rc) {
					c.Expected = true
				}
			}
		}
	}
	return statuses
}

// waitedFor reports whether condition c of route status rs is what wait rc
// waited for.
func waitedFor(rs report.RouteStatus, c report.Condition, rc scenario.RouteCondition) bool {
	parentNS := rc.Parent.Namespace
	if parentNS == "" {
		parentNS = rc.Route.Namespace
	}
	parent, _, _ := strings.Cut(rs.Parent, ":")
	return rs.Kind == rc.Route.Kind && rs.Namespace == rc.Route.Namespace && rs.Name == rc.Route.Name &&
		parent == parentNS+"/"+rc.Parent.Name && c.Type == rc.Type && c.Status == rc.Status &&
		(rc.Reason == "" || c.Reason == rc.Reason)
}

// dedupe keeps the last copy of each object, in first-seen order.
func dedupe(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	key := func(u *unstructured.Unstructured) string {
		return u.GetAPIVersion() + "/" + u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	}
	idx := map[string]int{}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if i, ok := idx[key(o)]; ok {
			out[i] = o
			continue
		}
		idx[key(o)] = len(out)
		out = append(out, o)
	}
	return out
}

// inRegistry rewrites, in place, the image of every container and init
// container found anywhere in obj (a Pod, a Deployment's template…) with
// [image.InRegistry]. An empty registry changes nothing.
func inRegistry(obj any, registry string) {
	if registry == "" {
		return
	}
	switch v := obj.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "containers" || k == "initContainers" || k == "ephemeralContainers" {
				if list, ok := child.([]any); ok {
					for _, c := range list {
						if m, ok := c.(map[string]any); ok {
							if ref, ok := m["image"].(string); ok {
								m["image"] = image.InRegistry(ref, registry)
							}
						}
					}
				}
				continue
			}
			inRegistry(child, registry)
		}
	case []any:
		for _, child := range v {
			inRegistry(child, registry)
		}
	}
}
