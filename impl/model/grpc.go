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
	return newRoute(kindGRPCRoute, &gr.ObjectMeta, gr.Spec.ParentRefs, gr.Spec.Rules, idx, &grpcRules)
}

// grpcRules is what [buildRule] needs to know of GRPCRoute rules: only
// their matches are gRPC's own.
var grpcRules = ruleKind[gwv1.GRPCRouteRule, gwv1.GRPCRouteMatch, gwv1.GRPCBackendRef]{parts: grpcRuleParts, match: grpcMatch, backend: grpcBackendRef}

func grpcRuleParts(rule *gwv1.GRPCRouteRule) ruleParts[gwv1.GRPCRouteMatch, gwv1.GRPCBackendRef] {
	return ruleParts[gwv1.GRPCRouteMatch, gwv1.GRPCBackendRef]{name: rule.Name, matches: rule.Matches, filters: grpcFilters(rule.Filters), backendRefs: rule.BackendRefs}
}

func grpcBackendRef(br gwv1.GRPCBackendRef) (gwv1.BackendRef, []filterRef) {
	return br.BackendRef, grpcFilters(br.Filters)
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
	hs, err := typedMatches("header", m.Headers, grpcHeader)
	if err != nil {
		return mo, err
	}
	if mo.m.Headers, err = stringMatches("header", hs, true); err != nil {
		return mo, err
	}
	return mo, nil
}

func grpcHeader(h *gwv1.GRPCHeaderMatch) (string, string, *gwv1.GRPCHeaderMatchType) {
	return string(h.Name), h.Value, h.Type
}
