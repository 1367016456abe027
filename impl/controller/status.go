package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/controllername"
)

// maxParents is the API's limit on status.parents.
const maxParents = 32

// mergeParents returns existing with our entries (controllerName
// controllername.Gammaproof) replaced by want, other controllers' entries kept in
// place, and whether that differs from existing. A condition whose status
// did not change keeps its lastTransitionTime; others get now.
func mergeParents(existing []gwv1.RouteParentStatus, want []model.ParentStatus, now time.Time) ([]gwv1.RouteParentStatus, bool) {
	ts := metav1.NewTime(now.Truncate(time.Second))
	var out []gwv1.RouteParentStatus
	for _, p := range existing {
		if p.ControllerName != controllername.Gammaproof {
			out = append(out, p)
		}
	}
	for _, w := range want {
		if len(out) >= maxParents {
			break
		}
		var old []metav1.Condition
		for _, p := range existing {
			if p.ControllerName == controllername.Gammaproof && equality.Semantic.DeepEqual(p.ParentRef, w.ParentRef) {
				old = p.Conditions
				break
			}
		}
		entry := gwv1.RouteParentStatus{ParentRef: *w.ParentRef.DeepCopy(), ControllerName: controllername.Gammaproof}
		for _, c := range w.Conditions {
			c.LastTransitionTime = ts
			if prev := meta.FindStatusCondition(old, c.Type); prev != nil && prev.Status == c.Status {
				c.LastTransitionTime = prev.LastTransitionTime
			}
			entry.Conditions = append(entry.Conditions, c)
		}
		out = append(out, entry)
	}
	if len(out) == 0 && len(existing) == 0 {
		return existing, false
	}
	if equality.Semantic.DeepEqual(out, existing) {
		return existing, false
	}
	if out == nil {
		out = []gwv1.RouteParentStatus{} // status.parents is required.
	}
	return out, true
}
