package xdscontract

import (
	"errors"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Route is one route entry: a match and exactly one of Forward, Redirect
// and Direct.
type Route struct {
	Name     string
	Match    Match
	Forward  *Forward
	Redirect *Redirect
	Direct   *Direct
	// RequestHeaders and ResponseHeaders are the route-level modifiers.
	RequestHeaders  HeaderMods
	ResponseHeaders HeaderMods
}

// EncodeRoute returns the Route of r.
func EncodeRoute(r *Route) (*route.Route, error) {
	out := &route.Route{Name: r.Name, Match: EncodeMatch(&r.Match)}
	out.RequestHeadersToAdd, out.RequestHeadersToRemove = EncodeHeaderMods(r.RequestHeaders)
	out.ResponseHeadersToAdd, out.ResponseHeadersToRemove = EncodeHeaderMods(r.ResponseHeaders)
	switch {
	case r.Forward != nil:
		a, err := EncodeRouteAction(r.Forward)
		if err != nil {
			return nil, err
		}
		out.Action = &route.Route_Route{Route: a}
	case r.Redirect != nil:
		a, err := EncodeRedirect(r.Redirect)
		if err != nil {
			return nil, err
		}
		out.Action = &route.Route_Redirect{Redirect: a}
	case r.Direct != nil:
		out.Action = &route.Route_DirectResponse{DirectResponse: EncodeDirect(r.Direct)}
	default:
		return nil, errors.New("encode route: no action (forward, redirect or direct response)")
	}
	return out, nil
}

// DecodeRoute decodes a Route; path names it in errors.
func DecodeRoute(r *route.Route, path string) (*Route, error) {
	if err := OnlyFields(r, path, "name", "match", "route", "redirect", "direct_response", "metadata",
		"request_headers_to_add", "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove"); err != nil {
		return nil, err
	}
	out := &Route{Name: r.GetName()}
	m, err := DecodeMatch(r.GetMatch(), path+".match")
	if err != nil {
		return nil, err
	}
	out.Match = m
	if out.RequestHeaders, err = DecodeHeaderMods(r.GetRequestHeadersToAdd(), r.GetRequestHeadersToRemove(), path+".request_headers_to_add"); err != nil {
		return nil, err
	}
	if out.ResponseHeaders, err = DecodeHeaderMods(r.GetResponseHeadersToAdd(), r.GetResponseHeadersToRemove(), path+".response_headers_to_add"); err != nil {
		return nil, err
	}
	switch {
	case r.GetRoute() != nil:
		out.Forward, err = DecodeRouteAction(r.GetRoute(), path+".route")
	case r.GetRedirect() != nil:
		out.Redirect, err = DecodeRedirect(r.GetRedirect(), path+".redirect")
	case r.GetDirectResponse() != nil:
		out.Direct, err = DecodeDirect(r.GetDirectResponse(), path+".direct_response")
	default:
		err = Unsupported(path, "action must be route, redirect or direct_response")
	}
	if err != nil {
		return nil, err
	}
	if out.Match.PathKind == PathRegex && ((out.Forward != nil && out.Forward.PrefixRewrite != "") || (out.Redirect != nil && out.Redirect.PrefixRewrite != "")) {
		return nil, Unsupported(path, "prefix_rewrite with a safe_regex path match (nothing to replace)")
	}
	return out, nil
}
