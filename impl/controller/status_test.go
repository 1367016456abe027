package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/controllername"
)

func TestMergeParents(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	svc := gwv1.ParentReference{Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")), Name: "bookstore"}
	gw := gwv1.ParentReference{Name: "gw"}
	foreign := gwv1.RouteParentStatus{ParentRef: gw, ControllerName: "example.com/gateway", Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted"}}}
	accepted := func(status metav1.ConditionStatus, ts time.Time) []metav1.Condition {
		return []metav1.Condition{{Type: "Accepted", Status: status, Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(ts)}}
	}
	ours := func(status metav1.ConditionStatus, ts time.Time) gwv1.RouteParentStatus {
		return gwv1.RouteParentStatus{ParentRef: svc, ControllerName: controllername.Gammaproof, Conditions: accepted(status, ts)}
	}
	want := func(status metav1.ConditionStatus) []model.ParentStatus {
		return []model.ParentStatus{{ParentRef: svc, Conditions: accepted(status, time.Time{})}}
	}
	tests := []struct {
		name        string
		existing    []gwv1.RouteParentStatus
		want        []model.ParentStatus
		wantOut     []gwv1.RouteParentStatus
		wantChanged bool
	}{
		{"first write keeps foreign entries", []gwv1.RouteParentStatus{foreign}, want("True"), []gwv1.RouteParentStatus{foreign, ours("True", t1)}, true},
		{"unchanged is not rewritten", []gwv1.RouteParentStatus{foreign, ours("True", t0)}, want("True"), []gwv1.RouteParentStatus{foreign, ours("True", t0)}, false},
		{"status flip gets a new transition time", []gwv1.RouteParentStatus{ours("True", t0)}, want("False"), []gwv1.RouteParentStatus{ours("False", t1)}, true},
		{"parent gone removes only our entry", []gwv1.RouteParentStatus{ours("True", t0), foreign}, nil, []gwv1.RouteParentStatus{foreign}, true},
		{"nothing to do", nil, nil, nil, false},
		{"last entry removed leaves an empty list", []gwv1.RouteParentStatus{ours("True", t0)}, nil, []gwv1.RouteParentStatus{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := mergeParents(tt.existing, tt.want, t1)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if len(out) != len(tt.wantOut) {
				t.Fatalf("out = %+v, want %+v", out, tt.wantOut)
			}
			for i := range out {
				if out[i].ControllerName != tt.wantOut[i].ControllerName || out[i].Conditions[0].Status != tt.wantOut[i].Conditions[0].Status ||
					!out[i].Conditions[0].LastTransitionTime.Equal(&tt.wantOut[i].Conditions[0].LastTransitionTime) {
					t.Errorf("out[%d] = %+v, want %+v", i, out[i], tt.wantOut[i])
				}
			}
			if tt.wantChanged && out == nil {
				t.Error("out is nil; status.parents is required")
			}
		})
	}
}
