package model

import (
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/internal/controllername"
)

// statuses returns the status of every route with a Service parentRef,
// sorted by Kind, Namespace, Name; nil when there is none.
func statuses(routes []*routeObj) []RouteStatus {
	var out []RouteStatus
	for _, r := range routes {
		if len(r.parents) == 0 {
			continue
		}
		if out == nil {
			out = make([]RouteStatus, 0, len(routes))
		}
		out = append(out, r.status())
	}
	slices.SortFunc(out, func(a, b RouteStatus) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// status is r's status for its Service parents: Accepted and ResolvedRefs,
// plus PartiallyInvalid when rules were dropped.
func (r *routeObj) status() RouteStatus {
	st := RouteStatus{Kind: r.kind, Namespace: r.ns, Name: r.name, Generation: r.generation}
	if len(r.parents) > 0 {
		st.Parents = make([]ParentStatus, 0, len(r.parents))
	}
	for pi := range r.parents {
		p := &r.parents[pi]
		var conflicted []int32
		for _, port := range p.ports {
			if r.conflicted[r.listenerKey(p, port)] {
				conflicted = append(conflicted, port)
			}
		}
		accepted := metav1.Condition{
			Type:               string(gwv1.RouteConditionAccepted),
			Status:             metav1.ConditionTrue,
			Reason:             string(gwv1.RouteReasonAccepted),
			Message:            "accepted by " + controllername.Gammaproof,
			ObservedGeneration: r.generation,
		}
		resolved := metav1.Condition{
			Type:               string(gwv1.RouteConditionResolvedRefs),
			Status:             metav1.ConditionTrue,
			Reason:             string(gwv1.RouteReasonResolvedRefs),
			Message:            "all references resolved",
			ObservedGeneration: r.generation,
		}
		switch {
		case !p.accepted:
			accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, p.reason, p.msg
		case len(conflicted) == len(p.ports):
			accepted.Status, accepted.Reason = metav1.ConditionFalse, ReasonConflicted
			accepted.Message = "a GRPCRoute binds to the same Service port; GRPCRoute takes precedence over HTTPRoute (GEP-1294)"
		case len(conflicted) > 0:
			accepted.Message = "accepted; not applied on port(s) " + joinPorts(conflicted) + " where a GRPCRoute takes precedence (GEP-1294)"
		}
		switch {
		case p.refNotPermitted:
			resolved.Status, resolved.Reason = metav1.ConditionFalse, string(gwv1.RouteReasonRefNotPermitted)
			resolved.Message = p.msg
		case r.refReason != "":
			resolved.Status, resolved.Reason = metav1.ConditionFalse, r.refReason
			resolved.Message = strings.Join(r.refMsgs, "; ")
		}
		conds := make([]metav1.Condition, 2, 3)
		conds[0], conds[1] = accepted, resolved
		if accepted.Status == metav1.ConditionTrue && len(r.dropped) > 0 {
			conds = append(conds, metav1.Condition{
				Type:               string(gwv1.RouteConditionPartiallyInvalid),
				Status:             metav1.ConditionTrue,
				Reason:             string(gwv1.RouteReasonUnsupportedValue),
				Message:            "Dropped Rule(s): " + strings.Join(r.dropped, "; "),
				ObservedGeneration: r.generation,
			})
		}
		for i := range conds {
			conds[i].Message = truncate(conds[i].Message)
		}
		st.Parents = append(st.Parents, ParentStatus{ParentRef: p.ref, Conditions: conds})
	}
	return st
}

// truncate keeps a condition message within the API's 32768-byte limit.
func truncate(s string) string {
	const max = 32000
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func joinPorts(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
