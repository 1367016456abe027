package model

import (
	"cmp"
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
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
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
		var conflicts, coexist []string
		for _, port := range p.ports {
			k := r.listenerKey(p, port)
			if c := r.conflicts[k]; len(c) > 0 {
				conflicted = append(conflicted, port)
				conflicts = append(conflicts, c...)
			}
			coexist = append(coexist, r.coexist[k]...)
		}
		accepted := metav1.Condition{
			Type:               string(gwv1.RouteConditionAccepted),
			Status:             metav1.ConditionTrue,
			Reason:             string(gwv1.RouteReasonAccepted),
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
			accepted.Message = joinMessages(conflicts)
		default:
			msgs := make([]string, 0, 2+len(coexist)+len(r.notes))
			msgs = append(msgs, "accepted by "+controllername.Gammaproof)
			if len(conflicted) > 0 {
				msgs = append(msgs, "not applied on port(s) "+joinPorts(conflicted)+": "+joinMessages(conflicts))
			}
			msgs = append(msgs, coexist...)
			msgs = append(msgs, r.notes...)
			accepted.Message = joinMessages(msgs)
		}
		switch {
		case p.refNotPermitted:
			resolved.Status, resolved.Reason = metav1.ConditionFalse, string(gwv1.RouteReasonRefNotPermitted)
			resolved.Message = p.msg
		case r.refReason != "":
			resolved.Status, resolved.Reason = metav1.ConditionFalse, r.refReason
			resolved.Message = joinMessages(r.refMsgs)
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

// joinMessages joins msgs with "; ", each distinct message once, in the
// order of its first appearance: two rules with the same missing backend
// say so once.
func joinMessages(msgs []string) string {
	if len(msgs) == 1 {
		return msgs[0]
	}
	seen := make(map[string]bool, len(msgs))
	var b strings.Builder
	for _, m := range msgs {
		if seen[m] {
			continue
		}
		seen[m] = true
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m)
	}
	return b.String()
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
