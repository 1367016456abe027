package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/internal/controllername"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/internal/testenv"
	"github.com/gammaproof/gammaproof/suite/report"
	"github.com/gammaproof/gammaproof/suite/scenario"
)

func TestSkipReason(t *testing.T) {
	tests := []struct {
		name   string
		r      *Runner
		s      scenario.Scenario
		wantIn string
	}{
		{"runs", &Runner{GrantPolicy: "spec"}, scenario.Scenario{Features: []string{"Mesh"}}, ""},
		{"other policy", &Runner{GrantPolicy: "spec"}, scenario.Scenario{GrantPolicy: "strict"}, "needs the strict grant policy; this run uses spec"},
		{"unknown policy", &Runner{}, scenario.Scenario{GrantPolicy: "strict"}, "unknown"},
		{"unsupported", &Runner{Supported: []string{"Mesh"}}, scenario.Scenario{Features: []string{"Mesh", "MeshHTTPRouteWeight"}}, "MeshHTTPRouteWeight is not supported"},
		{"exempt", &Runner{Exempt: []string{"MeshConsumerRoute"}}, scenario.Scenario{Features: []string{"MeshConsumerRoute"}}, "exempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.SkipReason(&tt.s)
			if (tt.wantIn == "") != (got == "") || !strings.Contains(got, tt.wantIn) {
				t.Fatalf("SkipReason = %q, want one containing %q", got, tt.wantIn)
			}
		})
	}
}

// TestWaits proves the waits against a real kube-apiserver: pod readiness
// and route status are written through the status subresource, as a
// kubelet and a mesh controller would.
func TestWaits(t *testing.T) {
	cfg := testenv.Start(t)
	cfg.QPS, cfg.Burst = 1000, 1000
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	a, err := kubeapply.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubeapply.Decode([]byte(`
apiVersion: v1
kind: Namespace
metadata: {name: w}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: w, labels: {app: echo}}
spec:
  containers: [{name: c, image: gammaproof/echo:dev}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: w}
spec:
  ports: [{port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: w}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 8080}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, objs, false); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Applier: a, Client: cs, Dynamic: dyn, ControllerName: controllername.Gammaproof}
	short := scenario.Duration{Duration: 2 * time.Second}

	podWait := scenario.Wait{PodsReady: &scenario.PodSelector{Namespace: "w", Selector: "app=echo"}, Timeout: short}
	if err := r.Wait(ctx, podWait); err == nil || !strings.Contains(err.Error(), "0 ready") {
		t.Fatalf("pod not ready yet: err = %v", err)
	}
	pod, err := cs.CoreV1().Pods("w").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := cs.CoreV1().Pods("w").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx, podWait); err != nil {
		t.Fatalf("pod ready: %v", err)
	}

	accepted := scenario.Wait{Timeout: short, RouteCondition: &scenario.RouteCondition{
		Route:  scenario.ObjectRef{Kind: "HTTPRoute", Namespace: "w", Name: "r"},
		Parent: scenario.ObjectRef{Kind: "Service", Name: "echo"},
		Type:   "Accepted", Status: "True",
	}}
	if err := r.Wait(ctx, accepted); err == nil || !strings.Contains(err.Error(), "no status") {
		t.Fatalf("no status yet: err = %v", err)
	}
	// statusCurrent (what check.FailFast asks before a FAIL ends early)
	// follows the same rules as the waits: our controller's status, at the
	// route's generation.
	wantCurrent := func(want bool) {
		t.Helper()
		got, err := r.statusCurrent(ctx, objs)
		if err != nil || got != want {
			t.Fatalf("statusCurrent = %v, %v; want %v", got, err, want)
		}
	}
	wantCurrent(false)
	setStatus := func(controller, status string, gen int64) {
		t.Helper()
		u, err := dyn.Resource(routeResources["HTTPRoute"]).Namespace("w").Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		parents := []any{map[string]any{
			"parentRef":      map[string]any{"group": "", "kind": "Service", "name": "echo", "port": int64(8080)},
			"controllerName": controller,
			"conditions": []any{map[string]any{
				"type": "Accepted", "status": status, "reason": "Accepted", "message": "",
				"observedGeneration": gen, "lastTransitionTime": "2026-01-01T00:00:00Z",
			}},
		}}
		if err := unstructured.SetNestedSlice(u.Object, parents, "status", "parents"); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(routeResources["HTTPRoute"]).Namespace("w").UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("example.com/other-mesh", "True", 1)
	if err := r.Wait(ctx, accepted); err == nil {
		t.Fatal("another controller's status counted")
	}
	wantCurrent(false)
	setStatus(controllername.Gammaproof, "True", 0)
	if err := r.Wait(ctx, accepted); err == nil || !strings.Contains(err.Error(), "generation 0 of 1") {
		t.Fatalf("stale generation counted: err = %v", err)
	}
	wantCurrent(false)
	setStatus(controllername.Gammaproof, "True", 1)
	if err := r.Wait(ctx, accepted); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	wantCurrent(true)
	st := r.routeStatuses(ctx, objs)
	if len(st) != 1 || st[0].Parent != "w/echo:8080" || st[0].Conditions[0].Type != "Accepted" {
		t.Fatalf("route statuses %+v", st)
	}
}

// TestExecObserved: an exec check records the whole output it judged and,
// per expected string, the lines that had it.
func TestExecObserved(t *testing.T) {
	var out strings.Builder
	for i := range 20 {
		v := "v1"
		if i%4 == 0 {
			v = "v2"
		}
		fmt.Fprintf(&out, "Response from %s\n", v)
	}
	got := execObserved(out.String(), []string{"Response from v1", "Response from v2"})
	for _, want := range []string{`"Response from v1" on 15 of 20 lines`, `"Response from v2" on 5 of 20 lines`, "output (20 lines):\nResponse from v2\nResponse from v1"} {
		if !strings.Contains(got, want) {
			t.Errorf("observed %q lacks %q", got, want)
		}
	}
	if n := strings.Count(got, "Response from v"); n != 22 {
		t.Errorf("observed shows %d backend lines, want the 20 of the output (plus the 2 expectations)", n)
	}
	long := execObserved(strings.Repeat("x", maxExecOutput+10), nil)
	if !strings.HasSuffix(long, "… 10 more bytes") || strings.Contains(long, " on ") {
		t.Errorf("long output: %q…", long[len(long)-40:])
	}
	if got := execObserved("", []string{"a"}); got != "\"a\" on 0 of 0 lines\noutput (0 lines):\n" {
		t.Errorf("empty output: %q", got)
	}
}

// TestStepStatuses: statuses read after a step carry its name, and only the
// conditions the step waited for are expected.
func TestStepStatuses(t *testing.T) {
	wait := func(kind, ns, name, parentNS, parent, typ, status, reason string) scenario.Wait {
		return scenario.Wait{RouteCondition: &scenario.RouteCondition{
			Route:  scenario.ObjectRef{Kind: kind, Namespace: ns, Name: name},
			Parent: scenario.ObjectRef{Kind: "Service", Namespace: parentNS, Name: parent},
			Type:   typ, Status: status, Reason: reason}}
	}
	status := func() []report.RouteStatus {
		return []report.RouteStatus{{Kind: "HTTPRoute", Namespace: "a", Name: "r", Parent: "a/echo:8080", Conditions: []report.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted"},
			{Type: "ResolvedRefs", Status: "False", Reason: "BackendNotFound"},
		}}}
	}
	tests := []struct {
		name string
		wait []scenario.Wait
		want []bool // Expected per condition
	}{
		{"no waits", nil, []bool{false, false}},
		{"ResolvedRefs=False", []scenario.Wait{wait("HTTPRoute", "a", "r", "", "echo", "ResolvedRefs", "False", "")}, []bool{false, true}},
		{"with its reason", []scenario.Wait{wait("HTTPRoute", "a", "r", "a", "echo", "ResolvedRefs", "False", "BackendNotFound")}, []bool{false, true}},
		{"other reason", []scenario.Wait{wait("HTTPRoute", "a", "r", "a", "echo", "ResolvedRefs", "False", "RefNotPermitted")}, []bool{false, false}},
		{"other status", []scenario.Wait{wait("HTTPRoute", "a", "r", "a", "echo", "ResolvedRefs", "True", "")}, []bool{false, false}},
		{"other parent", []scenario.Wait{wait("HTTPRoute", "a", "r", "b", "echo", "ResolvedRefs", "False", "")}, []bool{false, false}},
		{"other route", []scenario.Wait{wait("GRPCRoute", "a", "r", "a", "echo", "ResolvedRefs", "False", "")}, []bool{false, false}},
		{"both", []scenario.Wait{wait("HTTPRoute", "a", "r", "", "echo", "Accepted", "True", ""), wait("HTTPRoute", "a", "r", "", "echo", "ResolvedRefs", "False", "")}, []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stepStatuses(scenario.Step{Name: "step two", WaitFor: tt.wait}, status())
			if got[0].Step != "step two" {
				t.Errorf("step %q, want %q", got[0].Step, "step two")
			}
			for i, c := range got[0].Conditions {
				if c.Expected != tt.want[i] {
					t.Errorf("%s=%s expected %v, want %v", c.Type, c.Status, c.Expected, tt.want[i])
				}
			}
		})
	}
}
