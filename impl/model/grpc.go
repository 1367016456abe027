package model

import (
	"fmt"
	"regexp"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grpcRoute validates a GRPCRoute; nil when it has no Service parentRef.
// gRPC matches are lowered to HTTP/2 path matches: a call to
// package.Service/Method is a POST to "/package.Service/Method". "If no
// matches are specified, the implementation MUST match every gRPC
// request": a route without rules forwards everything to the parent
// Service, like a rule without backendRefs.
func grpcRoute(gr *gwv1.GRPCRoute, idx *index) *routeObj {
	return newRoute(kindGRPCRoute, &gr.ObjectMeta, gr.Spec.ParentRefs, gr.Spec.Rules, idx, (*routeObj).grpcRule)
}

// grpcRule validates one GRPCRoute rule: only its matches are gRPC's own.
func (r *routeObj) grpcRule(i int, rule gwv1.GRPCRouteRule, idx *index) (ruleObj, *ruleError) {
	var ru ruleObj
	err := buildRule(r, &ru, ruleSpec[gwv1.GRPCRouteMatch, gwv1.GRPCBackendRef]{
		index:       i,
		name:        rule.Name,
		matches:     rule.Matches,
		filters:     grpcFilters(rule.Filters),
		backendRefs: rule.BackendRefs,
		match:       grpcMatch,
		backend: func(br gwv1.GRPCBackendRef) (gwv1.BackendRef, []filterRef) {
			return br.BackendRef, grpcFilters(br.Filters)
		},
	}, ruleHooks{}, idx)
	return ru, err
}

const anySegment = "[^/]+"

func grpcMatch(m gwv1.GRPCRouteMatch) (matchObj, *ruleError) {
	mo := matchObj{m: Match{PathType: PathPrefix, PathValue: "/"}}
	if mm := m.Method; mm != nil {
		svc, meth := deref(mm.Service), deref(mm.Method)
		mo.grpcService, mo.grpcMethod = len(svc), len(meth)
		switch t := deref(mm.Type); t {
		case "", gwv1.GRPCMethodMatchExact:
			switch {
			case svc != "" && meth != "":
				mo.m.PathType, mo.m.PathValue = PathExact, "/"+svc+"/"+meth
			case svc != "":
				mo.m.PathType, mo.m.PathValue = PathRegex, "/"+regexp.QuoteMeta(svc)+"/"+anySegment
			case meth != "":
				mo.m.PathType, mo.m.PathValue = PathRegex, "/"+anySegment+"/"+regexp.QuoteMeta(meth)
			}
		case gwv1.GRPCMethodMatchRegularExpression:
			s, me := anySegment, anySegment
			if svc != "" {
				if err := checkRegex("gRPC service", svc); err != nil {
					return mo, err
				}
				s = "(?:" + svc + ")"
			}
			if meth != "" {
				if err := checkRegex("gRPC method", meth); err != nil {
					return mo, err
				}
				me = "(?:" + meth + ")"
			}
			mo.m.PathType, mo.m.PathValue = PathRegex, "/"+s+"/"+me
		default:
			return mo, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("gRPC method match type %q is not supported", t)}
		}
	}
	var hs []StringMatch
	for _, h := range m.Headers {
		t := deref(h.Type)
		if t != "" && t != gwv1.GRPCHeaderMatchExact && t != gwv1.GRPCHeaderMatchRegularExpression {
			return mo, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("header match type %q is not supported", t)}
		}
		hs = append(hs, StringMatch{Name: string(h.Name), Value: h.Value, Regex: t == gwv1.GRPCHeaderMatchRegularExpression})
	}
	var err *ruleError
	if mo.m.Headers, err = stringMatches("header", hs, true); err != nil {
		return mo, err
	}
	return mo, nil
}
