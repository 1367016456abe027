package model

import (
	"fmt"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/internal/controllername"
)

// filterRef is a rule's or backendRef's filter, HTTPRoute's or GRPCRoute's:
// the types they share have the same names and fields.
type filterRef struct {
	typ    string
	reqH   *gwv1.HTTPHeaderFilter
	respH  *gwv1.HTTPHeaderFilter
	mirror *gwv1.HTTPRequestMirrorFilter
	ext    *gwv1.LocalObjectReference
	http   *gwv1.HTTPRouteFilter // the HTTPRoute filter, for its own types; nil for gRPC
}

func httpFilters(fs []gwv1.HTTPRouteFilter) []filterRef {
	out := make([]filterRef, len(fs))
	for i := range fs {
		f := &fs[i]
		out[i] = filterRef{typ: string(f.Type), reqH: f.RequestHeaderModifier, respH: f.ResponseHeaderModifier, mirror: f.RequestMirror, ext: f.ExtensionRef, http: f}
	}
	return out
}

func grpcFilters(fs []gwv1.GRPCRouteFilter) []filterRef {
	out := make([]filterRef, len(fs))
	for i, f := range fs {
		out[i] = filterRef{typ: string(f.Type), reqH: f.RequestHeaderModifier, respH: f.ResponseHeaderModifier, mirror: f.RequestMirror, ext: f.ExtensionRef}
	}
	return out
}

// ruleFilters applies a rule's filters to ru. own handles the filter types
// only the route's kind has and reports whether f was one; nil when there
// are none.
func (r *routeObj) ruleFilters(ru *ruleObj, fs []filterRef, idx *index, own func(*ruleObj, filterRef) (bool, *ruleError)) *ruleError {
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if seen[f.typ] && f.typ != string(gwv1.HTTPRouteFilterRequestMirror) && f.typ != string(gwv1.HTTPRouteFilterExtensionRef) {
			// "Specifying the same filter multiple times is not supported unless explicitly indicated in the filter."
			return &ruleError{string(gwv1.RouteReasonIncompatibleFilters), fmt.Sprintf("filter %s is given more than once", f.typ)}
		}
		seen[f.typ] = true
		if headerFilter(f, &ru.reqH, &ru.respH) {
			continue
		}
		switch f.typ {
		case string(gwv1.HTTPRouteFilterRequestMirror):
			if mi, ok := r.mirror(f.mirror, idx); ok {
				ru.mirrors = append(ru.mirrors, mi)
			}
		case string(gwv1.HTTPRouteFilterExtensionRef):
			// "If a reference to a custom filter type cannot be resolved, the
			// filter MUST NOT be skipped. Instead, requests that would have
			// been processed by that filter MUST receive a HTTP error response."
			r.extensionRefProblem(f.ext)
			ru.direct500 = true
		default:
			if own != nil {
				handled, err := own(ru, f)
				if err != nil {
					return err
				}
				if handled {
					continue
				}
			}
			// "Unknown values here must result in the implementation setting
			// the Accepted Condition for the Route to `status: False`, with a
			// Reason of `UnsupportedValue`."
			return &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("filter type %q is not supported by %s", f.typ, controllername.Gammaproof)}
		}
	}
	return nil
}

// backendRef resolves one backendRef with its weight and filters; note
// ends the message for an unsupported filter type.
func (r *routeObj) backendRef(ref gwv1.BackendRef, fs []filterRef, idx *index, note string) (Backend, *ruleError) {
	w, err := weight(ref.Weight)
	if err != nil {
		return Backend{}, err
	}
	b := r.resolveBackend(ref.BackendObjectReference, idx)
	b.Weight = w
	for _, f := range fs {
		if headerFilter(f, &b.RequestHeaders, &b.ResponseHeaders) {
			continue
		}
		switch f.typ {
		case string(gwv1.HTTPRouteFilterExtensionRef):
			r.extensionRefProblem(f.ext)
			if b.Invalid == "" {
				b.Invalid, b.Cluster = string(gwv1.RouteReasonInvalidKind), ""
			}
		default:
			return Backend{}, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("backendRef filter type %q is not supported by %s%s", f.typ, controllername.Gammaproof, note)}
		}
	}
	return b, nil
}

// headerFilter applies f to req or resp when it is a RequestHeaderModifier
// or ResponseHeaderModifier, the filters a rule and a backendRef both have,
// and reports whether it was one.
func headerFilter(f filterRef, req, resp *HeaderModifier) bool {
	switch f.typ {
	case string(gwv1.HTTPRouteFilterRequestHeaderModifier):
		*req = headerModifier(f.reqH)
	case string(gwv1.HTTPRouteFilterResponseHeaderModifier):
		*resp = headerModifier(f.respH)
	default:
		return false
	}
	return true
}

// extensionRefProblem records an ExtensionRef filter, which gammaproof
// cannot resolve, as a ResolvedRefs problem (InvalidKind) of the route.
func (r *routeObj) extensionRefProblem(ref *gwv1.LocalObjectReference) {
	msg := "ExtensionRef filter without extensionRef; matching requests get 500"
	if ref != nil {
		msg = fmt.Sprintf("ExtensionRef filter %s/%s %q cannot be resolved by %s; matching requests get 500", ref.Group, ref.Kind, ref.Name, controllername.Gammaproof)
	}
	r.addRefProblem(string(gwv1.RouteReasonInvalidKind), msg)
}
