package model

import (
	"fmt"
	"slices"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// httpRoute validates an HTTPRoute; nil when it has no Service parentRef.
// The API defaults rules to {{matches: {{path: {type: "PathPrefix", value:
// "/"}}}}}: without rules, one rule without backendRefs, which forwards to
// the parent Service.
func httpRoute(hr *gwv1.HTTPRoute, idx *index) *routeObj {
	return newRoute(kindHTTPRoute, &hr.ObjectMeta, hr.Spec.ParentRefs, hr.Spec.Rules, idx, &httpRules)
}

// httpRules is what [buildRule] needs to know of HTTPRoute rules. Their own
// parts: path, method and query matches, the RequestRedirect and URLRewrite
// filters, timeouts and retry.
var httpRules = ruleKind[gwv1.HTTPRouteRule, gwv1.HTTPRouteMatch, gwv1.HTTPBackendRef]{
	parts:             httpRuleParts,
	match:             httpMatch,
	ownFilter:         httpFilter,
	finish:            httpRuleFields,
	backend:           httpBackendRef,
	backendFilterNote: " (only RequestHeaderModifier and ResponseHeaderModifier)",
}

// httpRuleParts: "If no matches are specified, the default is a prefix path
// match on "/", which has the effect of matching every HTTP request."
func httpRuleParts(rule *gwv1.HTTPRouteRule) ruleParts[gwv1.HTTPRouteMatch, gwv1.HTTPBackendRef] {
	return ruleParts[gwv1.HTTPRouteMatch, gwv1.HTTPBackendRef]{name: rule.Name, matches: rule.Matches, filters: httpFilters(rule.Filters), backendRefs: rule.BackendRefs}
}

func httpBackendRef(br gwv1.HTTPBackendRef) (gwv1.BackendRef, []filterRef) {
	return br.BackendRef, httpFilters(br.Filters)
}

// httpFilter applies the filters only HTTPRoute has: RequestRedirect and
// URLRewrite.
func httpFilter(ru *ruleObj, f filterRef) (bool, *ruleError) {
	var err *ruleError
	switch f.http.Type {
	case gwv1.HTTPRouteFilterRequestRedirect:
		ru.redirect, err = redirect(f.http.RequestRedirect, ru.matches)
	case gwv1.HTTPRouteFilterURLRewrite:
		ru.rewrite, err = rewrite(f.http.URLRewrite, ru.matches)
	default:
		return false, nil
	}
	return true, err
}

// httpRuleFields checks the filters together and sets timeouts and retry.
func httpRuleFields(ru *ruleObj, rule *gwv1.HTTPRouteRule) *ruleError {
	if ru.redirect != nil && ru.rewrite != nil {
		// "URLRewrite and RequestRedirect filters ... may not be combined."
		return &ruleError{string(gwv1.RouteReasonIncompatibleFilters), "RequestRedirect and URLRewrite cannot be combined"}
	}
	var err *ruleError
	if ru.timeouts.Request, err = parseDuration("timeouts.request", ruleTimeout(rule.Timeouts, true)); err != nil {
		return err
	}
	if ru.timeouts.BackendRequest, err = parseDuration("timeouts.backendRequest", ruleTimeout(rule.Timeouts, false)); err != nil {
		return err
	}
	if t := ru.timeouts; t.Request > 0 && t.BackendRequest > t.Request {
		// "the value of BackendRequest must be no more than the value of the Request timeout"
		return &ruleError{string(gwv1.RouteReasonUnsupportedValue), "timeouts.backendRequest is longer than timeouts.request"}
	}
	if rule.Retry != nil {
		rt, err := retry(rule.Retry)
		if err != nil {
			return err
		}
		ru.retry = rt
	}
	return nil
}

func ruleTimeout(t *gwv1.HTTPRouteTimeouts, request bool) *gwv1.Duration {
	if t == nil {
		return nil
	}
	if request {
		return t.Request
	}
	return t.BackendRequest
}

func retry(in *gwv1.HTTPRouteRetry) (*Retry, *ruleError) {
	rt := &Retry{Attempts: 1}
	if in.Attempts != nil {
		if *in.Attempts < 1 || *in.Attempts > 100 {
			return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("retry.attempts %d is outside 1..100", *in.Attempts)}
		}
		rt.Attempts = *in.Attempts
	}
	for _, c := range in.Codes {
		if c < 400 || c > 599 {
			return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("retry code %d is outside 400..599", c)}
		}
		rt.Codes = append(rt.Codes, int(c))
	}
	slices.Sort(rt.Codes)
	rt.Codes = slices.Compact(rt.Codes)
	var err *ruleError
	if rt.Backoff, err = parseDuration("retry.backoff", in.Backoff); err != nil {
		return nil, err
	}
	return rt, nil
}

func httpMatch(m gwv1.HTTPRouteMatch) (matchObj, *ruleError) {
	mo := matchObj{m: Match{PathType: PathPrefix, PathValue: "/"}}
	if m.Path != nil {
		t := deref(m.Path.Type)
		if t == "" {
			t = gwv1.PathMatchPathPrefix
		}
		v := "/"
		if m.Path.Value != nil {
			v = *m.Path.Value
		}
		switch t {
		case gwv1.PathMatchExact, gwv1.PathMatchPathPrefix:
			if len(v) == 0 || v[0] != '/' {
				return mo, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("path %q must start with /", v)}
			}
			if t == gwv1.PathMatchExact {
				mo.m.PathType, mo.m.PathValue = PathExact, v
			} else {
				mo.m.PathType, mo.m.PathValue = PathPrefix, normalizePrefix(v)
			}
		case gwv1.PathMatchRegularExpression:
			if err := checkRegex("path", v); err != nil {
				return mo, err
			}
			mo.m.PathType, mo.m.PathValue = PathRegex, v
		default:
			return mo, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("path match type %q is not supported", t)}
		}
	}
	hs, err := typedMatches("header", m.Headers, httpHeader)
	if err != nil {
		return mo, err
	}
	qs, err := typedMatches("query param", m.QueryParams, httpQueryParam)
	if err != nil {
		return mo, err
	}
	if mo.m.Headers, err = stringMatches("header", hs, true); err != nil {
		return mo, err
	}
	if mo.m.QueryParams, err = stringMatches("query param", qs, false); err != nil {
		return mo, err
	}
	mo.m.Method = string(deref(m.Method))
	return mo, nil
}

func httpHeader(h *gwv1.HTTPHeaderMatch) (string, string, *gwv1.HeaderMatchType) {
	return string(h.Name), h.Value, h.Type
}

func httpQueryParam(q *gwv1.HTTPQueryParamMatch) (string, string, *gwv1.QueryParamMatchType) {
	return string(q.Name), q.Value, q.Type
}

func pathModifier(in *gwv1.HTTPPathModifier, matches []matchObj) (*PathModifier, *ruleError) {
	if in == nil {
		return nil, nil
	}
	switch in.Type {
	case gwv1.FullPathHTTPPathModifier:
		return &PathModifier{Type: ReplaceFullPath, Value: deref(in.ReplaceFullPath)}, nil
	case gwv1.PrefixMatchHTTPPathModifier:
		// "ReplacePrefixMatch is only compatible with a `PathPrefix`
		// HTTPRouteMatch. Using any other HTTPRouteMatch type on the same
		// HTTPRouteRule will result in the implementation setting the
		// Accepted Condition for the Route to `status: False`."
		for _, m := range matches {
			if m.m.PathType != PathPrefix {
				return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), "ReplacePrefixMatch needs every match of the rule to be a PathPrefix match"}
			}
		}
		return &PathModifier{Type: ReplacePrefixMatch, Value: deref(in.ReplacePrefixMatch)}, nil
	}
	return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("path modifier type %q is not supported", in.Type)}
}

func redirect(in *gwv1.HTTPRequestRedirectFilter, matches []matchObj) (*Redirect, *ruleError) {
	if in == nil {
		return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), "RequestRedirect filter without requestRedirect"}
	}
	rd := &Redirect{Scheme: clonePtr(in.Scheme), Port: clonePtr(in.Port), StatusCode: 302}
	if in.Hostname != nil {
		h := string(*in.Hostname)
		rd.Hostname = &h
	}
	if in.StatusCode != nil {
		switch *in.StatusCode {
		case 301, 302, 303, 307, 308:
			rd.StatusCode = *in.StatusCode
		default:
			return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("redirect statusCode %d is not supported", *in.StatusCode)}
		}
	}
	if rd.Scheme != nil && *rd.Scheme != "http" && *rd.Scheme != "https" {
		return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("redirect scheme %q is not supported", *rd.Scheme)}
	}
	var err *ruleError
	if rd.Path, err = pathModifier(in.Path, matches); err != nil {
		return nil, err
	}
	return rd, nil
}

func rewrite(in *gwv1.HTTPURLRewriteFilter, matches []matchObj) (*URLRewrite, *ruleError) {
	if in == nil {
		return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), "URLRewrite filter without urlRewrite"}
	}
	rw := &URLRewrite{}
	if in.Hostname != nil {
		h := string(*in.Hostname)
		rw.Hostname = &h
	}
	var err *ruleError
	if rw.Path, err = pathModifier(in.Path, matches); err != nil {
		return nil, err
	}
	return rw, nil
}

// mirror resolves a RequestMirror filter; false when its backend is invalid
// (the problem is recorded in ResolvedRefs and nothing is mirrored).
func (r *routeObj) mirror(in *gwv1.HTTPRequestMirrorFilter, idx *index) (Mirror, bool) {
	if in == nil {
		r.addRefProblem(string(gwv1.RouteReasonBackendNotFound), "RequestMirror filter without requestMirror")
		return Mirror{}, false
	}
	b := r.resolveBackend(in.BackendRef, idx)
	if b.Invalid != "" {
		return Mirror{}, false
	}
	mi := Mirror{Cluster: b.Cluster, Service: b.Service, Port: b.Port, Numerator: 1, Denominator: 1}
	switch {
	case in.Fraction != nil:
		mi.Numerator, mi.Denominator = in.Fraction.Numerator, 100
		if in.Fraction.Denominator != nil {
			mi.Denominator = *in.Fraction.Denominator
		}
	case in.Percent != nil:
		mi.Numerator, mi.Denominator = *in.Percent, 100
	}
	if mi.Denominator <= 0 || mi.Numerator < 0 || mi.Numerator > mi.Denominator {
		r.addRefProblem(string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("RequestMirror fraction %d/%d is invalid", mi.Numerator, mi.Denominator))
		return Mirror{}, false
	}
	return mi, true
}

// clonePtr copies *p so the Mesh never aliases the Input.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
