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

func (r *routeObj) grpcRule(i int, rule gwv1.GRPCRouteRule, idx *index) (ruleObj, *ruleError) {
	ru := ruleObj{index: i, name: string(deref(rule.Name))}
	if n := len(rule.BackendRefs); n > 0 {
		ru.backends = make([]Backend, 0, n)
	}
	matches := rule.Matches
	if len(matches) == 0 {
		matches = []gwv1.GRPCRouteMatch{{}}
	}
	ru.matches = make([]matchObj, 0, len(matches))
	for _, m := range matches {
		mo, err := grpcMatch(m)
		if err != nil {
			return ru, err
		}
		ru.matches = append(ru.matches, mo)
	}
	if err := r.ruleFilters(&ru, grpcFilters(rule.Filters), idx, nil); err != nil {
		return ru, err
	}
	for _, br := range rule.BackendRefs {
		b, err := r.backendRef(br.BackendRef, grpcFilters(br.Filters), idx, "")
		if err != nil {
			return ru, err
		}
		ru.backends = append(ru.backends, b)
	}
	if err := ru.finishBackends(len(rule.BackendRefs) > 0); err != nil {
		return ru, err
	}
	return ru, nil
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
