package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Names of the extensions the proxy implements.
const (
	HTTPConnectionManagerName = "envoy.filters.network.http_connection_manager"
	RouterName                = "envoy.filters.http.router"
	HTTPProtocolOptionsName   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	// SteeringMetadataKey is the Listener filter_metadata key read into
	// Listener.Steering.
	SteeringMetadataKey = "gammaproof.io/steering"
)

// DefaultRouteTimeout is Envoy's route timeout when RouteAction.timeout is
// unset.
const DefaultRouteTimeout = 15 * time.Second

func unpack(a *anypb.Any, path string, into proto.Message) error {
	if a == nil {
		return fmt.Errorf("%s: missing", path)
	}
	want := "type.googleapis.com/" + string(into.ProtoReflect().Descriptor().FullName())
	if a.GetTypeUrl() != want {
		return unsupported(path, "type %q (want %q)", a.GetTypeUrl(), want)
	}
	if err := a.UnmarshalTo(into); err != nil {
		return fmt.Errorf("%s: decode %s: %w", path, a.GetTypeUrl(), err)
	}
	return nil
}

func duration(d *durationpb.Duration, path string) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
		return 0, fmt.Errorf("%s: invalid duration %v", path, d)
	}
	return d.AsDuration(), nil
}

// ParseListener converts a Listener, failing on anything unsupported.
func ParseListener(l *listenerv3.Listener) (*Listener, error) {
	p := fmt.Sprintf("listener %q", l.GetName())
	if err := onlyFields(l, p, "name", "address", "filter_chains", "metadata", "traffic_direction", "stat_prefix"); err != nil {
		return nil, err
	}
	out := &Listener{Name: l.GetName()}
	if out.Name == "" {
		return nil, fmt.Errorf("listener: name is empty")
	}
	host, port, err := socketAddress(l.GetAddress(), p+".address")
	if err != nil {
		return nil, err
	}
	out.Host, out.Port = host, port
	if len(l.GetFilterChains()) != 1 {
		return nil, unsupported(p+".filter_chains", "%d filter chains (want exactly 1)", len(l.GetFilterChains()))
	}
	fc := l.GetFilterChains()[0]
	fp := p + ".filter_chains[0]"
	if err := onlyFields(fc, fp, "filters", "name"); err != nil {
		return nil, err
	}
	if len(fc.GetFilters()) != 1 {
		return nil, unsupported(fp+".filters", "%d filters (want exactly 1, %s)", len(fc.GetFilters()), HTTPConnectionManagerName)
	}
	f := fc.GetFilters()[0]
	fp += ".filters[0]"
	if err := onlyFields(f, fp, "name", "typed_config"); err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := unpack(f.GetTypedConfig(), fp+".typed_config", hcm); err != nil {
		return nil, err
	}
	hp := fp + ".typed_config"
	if err := onlyFields(hcm, hp, "stat_prefix", "codec_type", "rds", "route_config", "http_filters"); err != nil {
		return nil, err
	}
	switch {
	case hcm.GetRds() != nil:
		rds := hcm.GetRds()
		if err := onlyFields(rds, hp+".rds", "config_source", "route_config_name"); err != nil {
			return nil, err
		}
		if err := adsSource(rds.GetConfigSource(), hp+".rds.config_source"); err != nil {
			return nil, err
		}
		if rds.GetRouteConfigName() == "" {
			return nil, fmt.Errorf("%s.rds.route_config_name: empty", hp)
		}
		out.RouteName = rds.GetRouteConfigName()
	case hcm.GetRouteConfig() != nil:
		rt, err := ParseRouteConfiguration(hcm.GetRouteConfig())
		if err != nil {
			return nil, fmt.Errorf("%s.route_config: %w", hp, err)
		}
		out.Routes = rt
	default:
		return nil, unsupported(hp, "route_specifier must be rds or route_config")
	}
	if n := len(hcm.GetHttpFilters()); n != 1 {
		return nil, unsupported(hp+".http_filters", "%d http filters (want exactly 1, %s)", n, RouterName)
	}
	hf := hcm.GetHttpFilters()[0]
	hfp := hp + ".http_filters[0]"
	if err := onlyFields(hf, hfp, "name", "typed_config"); err != nil {
		return nil, err
	}
	if hf.GetTypedConfig() != nil {
		router := &routerv3.Router{}
		if err := unpack(hf.GetTypedConfig(), hfp+".typed_config", router); err != nil {
			return nil, err
		}
		if err := onlyFields(router, hfp+".typed_config"); err != nil {
			return nil, err
		}
	} else if hf.GetName() != RouterName {
		return nil, unsupported(hfp+".name", "http filter %q", hf.GetName())
	}
	if md := l.GetMetadata(); md != nil {
		if err := onlyFields(md, p+".metadata", "filter_metadata"); err != nil {
			return nil, err
		}
		if s, ok := md.GetFilterMetadata()[SteeringMetadataKey]; ok {
			st, err := parseSteering(s, fmt.Sprintf("%s.metadata.filter_metadata[%q]", p, SteeringMetadataKey))
			if err != nil {
				return nil, err
			}
			out.Steering = st
		}
	}
	return out, nil
}

func parseSteering(s *structpb.Struct, path string) (Steering, error) {
	var st Steering
	for k, v := range s.GetFields() {
		fp := path + "." + k
		switch k {
		case "vips":
			lv := v.GetListValue()
			if lv == nil {
				return st, fmt.Errorf("%s: want a list of IP strings", fp)
			}
			for i, e := range lv.GetValues() {
				a, err := netip.ParseAddr(e.GetStringValue())
				if err != nil {
					return st, fmt.Errorf("%s[%d]: parse IP %q: %w", fp, i, e.GetStringValue(), err)
				}
				st.VIPs = append(st.VIPs, a)
			}
		case "servicePort":
			n, ok := v.GetKind().(*structpb.Value_NumberValue)
			if !ok || n.NumberValue < 0 || n.NumberValue > 65535 || n.NumberValue != float64(uint32(n.NumberValue)) {
				return st, fmt.Errorf("%s: want a port number, got %v", fp, v.AsInterface())
			}
			st.ServicePort = uint32(n.NumberValue)
		case "callerNamespace":
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return st, fmt.Errorf("%s: want a string", fp)
			}
			st.CallerNamespace = sv.StringValue
		case "service":
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return st, fmt.Errorf("%s: want a string", fp)
			}
			st.Service = sv.StringValue
		default:
			return st, unsupported(fp, "unknown steering key")
		}
	}
	return st, nil
}

func socketAddress(a *corev3.Address, path string) (string, uint32, error) {
	if a == nil {
		return "", 0, fmt.Errorf("%s: missing", path)
	}
	if err := onlyFields(a, path, "socket_address"); err != nil {
		return "", 0, err
	}
	sa := a.GetSocketAddress()
	if sa == nil {
		return "", 0, fmt.Errorf("%s.socket_address: missing", path)
	}
	if err := onlyFields(sa, path+".socket_address", "address", "port_value"); err != nil {
		return "", 0, err
	}
	if sa.GetPortValue() > 65535 {
		return "", 0, fmt.Errorf("%s.socket_address.port_value: %d out of range", path, sa.GetPortValue())
	}
	if _, err := netip.ParseAddr(sa.GetAddress()); err != nil {
		return "", 0, unsupported(path+".socket_address.address", "%q is not an IP address", sa.GetAddress())
	}
	return sa.GetAddress(), sa.GetPortValue(), nil
}

func adsSource(cs *corev3.ConfigSource, path string) error {
	if cs == nil {
		return fmt.Errorf("%s: missing", path)
	}
	if err := onlyFields(cs, path, "ads", "resource_api_version", "initial_fetch_timeout"); err != nil {
		return err
	}
	if cs.GetAds() == nil {
		return unsupported(path, "config source must be ads")
	}
	if v := cs.GetResourceApiVersion(); v != corev3.ApiVersion_AUTO && v != corev3.ApiVersion_V3 {
		return unsupported(path+".resource_api_version", "%v", v)
	}
	return nil
}

// ParseRouteConfiguration converts a RouteConfiguration, failing on
// anything unsupported.
func ParseRouteConfiguration(rc *routev3.RouteConfiguration) (*RouteTable, error) {
	p := fmt.Sprintf("route configuration %q", rc.GetName())
	if err := onlyFields(rc, p, "name", "virtual_hosts", "validate_clusters"); err != nil {
		return nil, err
	}
	out := &RouteTable{Name: rc.GetName()}
	for i, vh := range rc.GetVirtualHosts() {
		vp := fmt.Sprintf("%s.virtual_hosts[%d]", p, i)
		if err := onlyFields(vh, vp, "name", "domains", "routes"); err != nil {
			return nil, err
		}
		if len(vh.GetDomains()) == 0 {
			return nil, fmt.Errorf("%s.domains: empty", vp)
		}
		v := &VirtualHost{Name: vh.GetName(), Domains: vh.GetDomains()}
		for j, r := range vh.GetRoutes() {
			rt, err := parseRoute(r, fmt.Sprintf("%s.routes[%d]", vp, j))
			if err != nil {
				return nil, err
			}
			v.Routes = append(v.Routes, rt)
		}
		out.VirtualHosts = append(out.VirtualHosts, v)
	}
	return out, nil
}

func parseRoute(r *routev3.Route, p string) (*Route, error) {
	if err := onlyFields(r, p, "name", "match", "route", "redirect", "direct_response", "metadata",
		"request_headers_to_add", "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove"); err != nil {
		return nil, err
	}
	out := &Route{Name: r.GetName()}
	m, err := parseMatch(r.GetMatch(), p+".match")
	if err != nil {
		return nil, err
	}
	out.Match = m
	if out.RequestHeaders, err = headerMods(r.GetRequestHeadersToAdd(), r.GetRequestHeadersToRemove(), p+".request_headers_to_add"); err != nil {
		return nil, err
	}
	if out.ResponseHeaders, err = headerMods(r.GetResponseHeadersToAdd(), r.GetResponseHeadersToRemove(), p+".response_headers_to_add"); err != nil {
		return nil, err
	}
	switch {
	case r.GetRoute() != nil:
		out.Forward, err = parseRouteAction(r.GetRoute(), p+".route")
	case r.GetRedirect() != nil:
		out.Redirect, err = parseRedirect(r.GetRedirect(), p+".redirect")
	case r.GetDirectResponse() != nil:
		out.Direct, err = parseDirect(r.GetDirectResponse(), p+".direct_response")
	default:
		err = unsupported(p, "action must be route, redirect or direct_response")
	}
	if err != nil {
		return nil, err
	}
	if out.Match.PathKind == PathRegex && ((out.Forward != nil && out.Forward.PrefixRewrite != "") || (out.Redirect != nil && out.Redirect.PrefixRewrite != "")) {
		return nil, unsupported(p, "prefix_rewrite with a safe_regex path match (nothing to replace)")
	}
	return out, nil
}

func fullRegex(m *matcherv3.RegexMatcher, path string, anchored bool) (*regexp.Regexp, error) {
	if m == nil {
		return nil, fmt.Errorf("%s: missing", path)
	}
	if err := onlyFields(m, path, "regex", "google_re2"); err != nil {
		return nil, err
	}
	if g := m.GetGoogleRe2(); g != nil {
		if err := onlyFields(g, path+".google_re2"); err != nil {
			return nil, err
		}
	}
	expr := m.GetRegex()
	if anchored {
		expr = `^(?:` + expr + `)$`
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s.regex: compile %q: %w", path, m.GetRegex(), err)
	}
	return re, nil
}

func parseMatch(m *routev3.RouteMatch, p string) (Match, error) {
	var out Match
	if m == nil {
		return out, fmt.Errorf("%s: missing", p)
	}
	if err := onlyFields(m, p, "prefix", "path", "safe_regex", "path_separated_prefix", "headers", "query_parameters", "case_sensitive"); err != nil {
		return out, err
	}
	if cs := m.GetCaseSensitive(); cs != nil && !cs.GetValue() {
		return out, unsupported(p+".case_sensitive", "false")
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		out.PathKind, out.Path = PathPrefix, ps.Prefix
	case *routev3.RouteMatch_Path:
		out.PathKind, out.Path = PathExact, ps.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		out.PathKind, out.Path = PathSeparatedPrefix, ps.PathSeparatedPrefix
	case *routev3.RouteMatch_SafeRegex:
		re, err := fullRegex(ps.SafeRegex, p+".safe_regex", true)
		if err != nil {
			return out, err
		}
		out.PathKind, out.Regex = PathRegex, re
	default:
		return out, unsupported(p, "path specifier %T", ps)
	}
	for i, h := range m.GetHeaders() {
		hm, err := parseHeaderMatch(h, fmt.Sprintf("%s.headers[%d]", p, i))
		if err != nil {
			return out, err
		}
		out.Headers = append(out.Headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qp := fmt.Sprintf("%s.query_parameters[%d]", p, i)
		if err := onlyFields(q, qp, "name", "string_match", "present_match"); err != nil {
			return out, err
		}
		qm := QueryMatch{Name: q.GetName()}
		switch {
		case q.GetStringMatch() != nil:
			sm, err := parseStringMatch(q.GetStringMatch(), qp+".string_match")
			if err != nil {
				return out, err
			}
			qm.String = sm
		case q.GetPresentMatch():
		default:
			return out, unsupported(qp, "present_match false or no matcher")
		}
		out.Query = append(out.Query, qm)
	}
	return out, nil
}

func parseStringMatch(s *matcherv3.StringMatcher, p string) (*StringMatch, error) {
	if err := onlyFields(s, p, "exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"); err != nil {
		return nil, err
	}
	out := &StringMatch{IgnoreCase: s.GetIgnoreCase()}
	switch mp := s.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		out.Kind, out.Value = StringExact, mp.Exact
	case *matcherv3.StringMatcher_Prefix:
		out.Kind, out.Value = StringPrefix, mp.Prefix
	case *matcherv3.StringMatcher_Suffix:
		out.Kind, out.Value = StringSuffix, mp.Suffix
	case *matcherv3.StringMatcher_Contains:
		out.Kind, out.Value = StringContains, mp.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := fullRegex(mp.SafeRegex, p+".safe_regex", true)
		if err != nil {
			return nil, err
		}
		if s.GetIgnoreCase() {
			return nil, unsupported(p+".ignore_case", "with safe_regex")
		}
		out.Kind, out.Regex = StringRegex, re
	default:
		return nil, unsupported(p, "match pattern %T", mp)
	}
	return out, nil
}

func parseHeaderMatch(h *routev3.HeaderMatcher, p string) (HeaderMatch, error) {
	out := HeaderMatch{Name: strings.ToLower(h.GetName()), Invert: h.GetInvertMatch()}
	if err := onlyFields(h, p, "name", "exact_match", "safe_regex_match", "present_match", "prefix_match", "suffix_match", "contains_match", "string_match", "invert_match"); err != nil {
		return out, err
	}
	if out.Name == "" {
		return out, fmt.Errorf("%s.name: empty", p)
	}
	switch hs := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		out.String = &StringMatch{Kind: StringExact, Value: hs.ExactMatch}
	case *routev3.HeaderMatcher_PrefixMatch:
		out.String = &StringMatch{Kind: StringPrefix, Value: hs.PrefixMatch}
	case *routev3.HeaderMatcher_SuffixMatch:
		out.String = &StringMatch{Kind: StringSuffix, Value: hs.SuffixMatch}
	case *routev3.HeaderMatcher_ContainsMatch:
		out.String = &StringMatch{Kind: StringContains, Value: hs.ContainsMatch}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		re, err := fullRegex(hs.SafeRegexMatch, p+".safe_regex_match", true)
		if err != nil {
			return out, err
		}
		out.String = &StringMatch{Kind: StringRegex, Regex: re}
	case *routev3.HeaderMatcher_StringMatch:
		sm, err := parseStringMatch(hs.StringMatch, p+".string_match")
		if err != nil {
			return out, err
		}
		out.String = sm
	case *routev3.HeaderMatcher_PresentMatch:
		out.Present = hs.PresentMatch
	case nil:
		// Envoy: no specifier means "present".
		out.Present = true
	default:
		return out, unsupported(p, "header match specifier %T", hs)
	}
	return out, nil
}

func headerMods(add []*corev3.HeaderValueOption, remove []string, p string) (HeaderMods, error) {
	var out HeaderMods
	for i, o := range add {
		op := fmt.Sprintf("%s[%d]", p, i)
		if err := onlyFields(o, op, "header", "append", "append_action", "keep_empty_value"); err != nil {
			return out, err
		}
		h := o.GetHeader()
		if h == nil {
			return out, fmt.Errorf("%s.header: missing", op)
		}
		if err := onlyFields(h, op+".header", "key", "value", "raw_value"); err != nil {
			return out, err
		}
		if h.GetKey() == "" || strings.HasPrefix(h.GetKey(), ":") {
			return out, unsupported(op+".header.key", "%q", h.GetKey())
		}
		v := h.GetValue()
		if len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		if strings.Contains(v, "%") {
			return out, unsupported(op+".header.value", "command operators (%%...%%) in %q", v)
		}
		hv := HeaderValue{Key: h.GetKey(), Value: v}
		if o.GetAppend() != nil {
			if o.GetAppendAction() != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
				return out, fmt.Errorf("%s: both append and append_action set", op)
			}
			if !o.GetAppend().GetValue() {
				hv.Action = OverwriteOrAdd
			}
		} else {
			switch o.GetAppendAction() {
			case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
				hv.Action = AppendOrAdd
			case corev3.HeaderValueOption_ADD_IF_ABSENT:
				hv.Action = AddIfAbsent
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
				hv.Action = OverwriteOrAdd
			case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
				hv.Action = OverwriteIfExists
			default:
				return out, unsupported(op+".append_action", "%v", o.GetAppendAction())
			}
		}
		out.Add = append(out.Add, hv)
	}
	for _, r := range remove {
		if r == "" || strings.HasPrefix(r, ":") {
			return out, unsupported(strings.Replace(p, "_to_add", "_to_remove", 1), "%q", r)
		}
	}
	out.Remove = remove
	return out, nil
}

func parseRouteAction(a *routev3.RouteAction, p string) (*Forward, error) {
	if err := onlyFields(a, p, "cluster", "weighted_clusters", "cluster_not_found_response_code", "timeout",
		"retry_policy", "request_mirror_policies", "prefix_rewrite", "regex_rewrite", "host_rewrite_literal"); err != nil {
		return nil, err
	}
	out := &Forward{Timeout: DefaultRouteTimeout}
	switch a.GetClusterNotFoundResponseCode() {
	case routev3.RouteAction_SERVICE_UNAVAILABLE:
		out.NotFoundStatus = 503
	case routev3.RouteAction_NOT_FOUND:
		out.NotFoundStatus = 404
	case routev3.RouteAction_INTERNAL_SERVER_ERROR:
		out.NotFoundStatus = 500
	default:
		return nil, unsupported(p+".cluster_not_found_response_code", "%v", a.GetClusterNotFoundResponseCode())
	}
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		out.Backends = []Backend{{Cluster: cs.Cluster, Weight: 1}}
		out.TotalWeight = 1
	case *routev3.RouteAction_WeightedClusters:
		wc := cs.WeightedClusters
		wp := p + ".weighted_clusters"
		if err := onlyFields(wc, wp, "clusters", "total_weight"); err != nil {
			return nil, err
		}
		for i, c := range wc.GetClusters() {
			cp := fmt.Sprintf("%s.clusters[%d]", wp, i)
			if err := onlyFields(c, cp, "name", "weight", "request_headers_to_add", "request_headers_to_remove",
				"response_headers_to_add", "response_headers_to_remove"); err != nil {
				return nil, err
			}
			if c.GetName() == "" {
				return nil, fmt.Errorf("%s.name: empty", cp)
			}
			b := Backend{Cluster: c.GetName(), Weight: c.GetWeight().GetValue()}
			var err error
			if b.RequestHeaders, err = headerMods(c.GetRequestHeadersToAdd(), c.GetRequestHeadersToRemove(), cp+".request_headers_to_add"); err != nil {
				return nil, err
			}
			if b.ResponseHeaders, err = headerMods(c.GetResponseHeadersToAdd(), c.GetResponseHeadersToRemove(), cp+".response_headers_to_add"); err != nil {
				return nil, err
			}
			out.TotalWeight += uint64(b.Weight)
			out.Backends = append(out.Backends, b)
		}
		if out.TotalWeight == 0 {
			return nil, fmt.Errorf("%s: total weight is 0 (use direct_response for all-zero weights)", wp)
		}
		if tw := wc.GetTotalWeight(); tw != nil && uint64(tw.GetValue()) != out.TotalWeight {
			return nil, fmt.Errorf("%s.total_weight: %d, but the weights sum to %d", wp, tw.GetValue(), out.TotalWeight)
		}
	default:
		return nil, unsupported(p, "cluster specifier %T", cs)
	}
	if a.GetTimeout() != nil {
		d, err := duration(a.GetTimeout(), p+".timeout")
		if err != nil {
			return nil, err
		}
		out.Timeout = d
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		r, err := parseRetry(rp, p+".retry_policy")
		if err != nil {
			return nil, err
		}
		out.Retry = r
	}
	for i, m := range a.GetRequestMirrorPolicies() {
		mp := fmt.Sprintf("%s.request_mirror_policies[%d]", p, i)
		if err := onlyFields(m, mp, "cluster", "disable_shadow_host_suffix_append", "runtime_fraction"); err != nil {
			return nil, err
		}
		if m.GetCluster() == "" {
			return nil, fmt.Errorf("%s.cluster: empty", mp)
		}
		mirror := Mirror{Cluster: m.GetCluster(), NoShadowSuffix: m.GetDisableShadowHostSuffixAppend(), Fraction: 1}
		if rf := m.GetRuntimeFraction(); rf != nil {
			f, err := fraction(rf, mp+".runtime_fraction")
			if err != nil {
				return nil, err
			}
			mirror.Fraction = f
		}
		out.Mirrors = append(out.Mirrors, mirror)
	}
	out.PrefixRewrite = a.GetPrefixRewrite()
	if rr := a.GetRegexRewrite(); rr != nil {
		rp := p + ".regex_rewrite"
		if err := onlyFields(rr, rp, "pattern", "substitution"); err != nil {
			return nil, err
		}
		if out.PrefixRewrite != "" {
			return nil, fmt.Errorf("%s: both prefix_rewrite and regex_rewrite set", p)
		}
		re, err := fullRegex(rr.GetPattern(), rp+".pattern", false)
		if err != nil {
			return nil, err
		}
		out.RegexRewrite = re
		out.RegexSubstitution = envoySubstitution(rr.GetSubstitution())
	}
	out.HostRewrite = a.GetHostRewriteLiteral()
	return out, nil
}

// fraction returns a RuntimeFractionalPercent's default value. The proxy has
// no runtime layer, so a runtime_key never overrides it (as in an Envoy
// without runtime overrides).
func fraction(rf *corev3.RuntimeFractionalPercent, p string) (float64, error) {
	if err := onlyFields(rf, p, "default_value", "runtime_key"); err != nil {
		return 0, err
	}
	dv := rf.GetDefaultValue()
	if dv == nil {
		return 0, fmt.Errorf("%s.default_value: missing", p)
	}
	if err := onlyFields(dv, p+".default_value", "numerator", "denominator"); err != nil {
		return 0, err
	}
	var den float64
	switch dv.GetDenominator() {
	case typev3.FractionalPercent_HUNDRED:
		den = 100
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10_000
	case typev3.FractionalPercent_MILLION:
		den = 1_000_000
	default:
		return 0, unsupported(p+".default_value.denominator", "%v", dv.GetDenominator())
	}
	return min(1, float64(dv.GetNumerator())/den), nil
}

var backref = regexp.MustCompile(`\\([0-9])`)

// envoySubstitution turns RE2 "\1" back-references into Go's "${1}" and
// escapes literal "$".
func envoySubstitution(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	return backref.ReplaceAllString(s, "$${$1}")
}

func parseRetry(rp *routev3.RetryPolicy, p string) (*Retry, error) {
	if err := onlyFields(rp, p, "retry_on", "num_retries", "per_try_timeout", "retriable_status_codes", "retry_back_off", "retriable_request_headers"); err != nil {
		return nil, err
	}
	out := &Retry{NumRetries: 1, BackoffBase: 25 * time.Millisecond}
	if rp.GetNumRetries() != nil {
		out.NumRetries = rp.GetNumRetries().GetValue()
	}
	for _, c := range strings.Split(rp.GetRetryOn(), ",") {
		switch strings.TrimSpace(c) {
		case "":
		case "5xx":
			out.On |= Retry5xx
		case "gateway-error":
			out.On |= RetryGatewayError
		case "connect-failure":
			out.On |= RetryConnectFailure
		case "reset", "refused-stream":
			out.On |= RetryReset
		case "retriable-status-codes":
			out.On |= RetryStatusCodes
		default:
			return nil, unsupported(p+".retry_on", "condition %q", c)
		}
	}
	for i, h := range rp.GetRetriableRequestHeaders() {
		m, err := parseHeaderMatch(h, fmt.Sprintf("%s.retriable_request_headers[%d]", p, i))
		if err != nil {
			return nil, err
		}
		out.OnlyIf = append(out.OnlyIf, m)
	}
	for _, c := range rp.GetRetriableStatusCodes() {
		if c < 100 || c > 599 {
			return nil, fmt.Errorf("%s.retriable_status_codes: %d is not an HTTP status", p, c)
		}
		out.StatusCodes = append(out.StatusCodes, int(c))
	}
	var err error
	if out.PerTry, err = duration(rp.GetPerTryTimeout(), p+".per_try_timeout"); err != nil {
		return nil, err
	}
	if bo := rp.GetRetryBackOff(); bo != nil {
		if err := onlyFields(bo, p+".retry_back_off", "base_interval", "max_interval"); err != nil {
			return nil, err
		}
		if out.BackoffBase, err = duration(bo.GetBaseInterval(), p+".retry_back_off.base_interval"); err != nil {
			return nil, err
		}
		if out.BackoffMax, err = duration(bo.GetMaxInterval(), p+".retry_back_off.max_interval"); err != nil {
			return nil, err
		}
	}
	if out.BackoffMax == 0 {
		out.BackoffMax = 10 * out.BackoffBase
	}
	return out, nil
}

func parseRedirect(r *routev3.RedirectAction, p string) (*Redirect, error) {
	if err := onlyFields(r, p, "https_redirect", "scheme_redirect", "host_redirect", "port_redirect",
		"path_redirect", "prefix_rewrite", "regex_rewrite", "response_code", "strip_query"); err != nil {
		return nil, err
	}
	out := &Redirect{Host: r.GetHostRedirect(), Port: r.GetPortRedirect(), Path: r.GetPathRedirect(),
		PrefixRewrite: r.GetPrefixRewrite(), StripQuery: r.GetStripQuery()}
	if rr := r.GetRegexRewrite(); rr != nil {
		rp := p + ".regex_rewrite"
		if err := onlyFields(rr, rp, "pattern", "substitution"); err != nil {
			return nil, err
		}
		re, err := fullRegex(rr.GetPattern(), rp+".pattern", false)
		if err != nil {
			return nil, err
		}
		out.RegexRewrite, out.RegexSubstitution = re, envoySubstitution(rr.GetSubstitution())
	}
	if r.GetHttpsRedirect() {
		out.Scheme = "https"
	}
	if s := r.GetSchemeRedirect(); s != "" {
		out.Scheme = strings.ToLower(s)
	}
	if out.Port > 65535 {
		return nil, fmt.Errorf("%s.port_redirect: %d out of range", p, out.Port)
	}
	switch r.GetResponseCode() {
	case routev3.RedirectAction_MOVED_PERMANENTLY:
		out.Status = 301
	case routev3.RedirectAction_FOUND:
		out.Status = 302
	case routev3.RedirectAction_SEE_OTHER:
		out.Status = 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		out.Status = 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		out.Status = 308
	default:
		return nil, unsupported(p+".response_code", "%v", r.GetResponseCode())
	}
	return out, nil
}

func parseDirect(d *routev3.DirectResponseAction, p string) (*Direct, error) {
	if err := onlyFields(d, p, "status", "body"); err != nil {
		return nil, err
	}
	if d.GetStatus() < 200 || d.GetStatus() > 599 {
		return nil, fmt.Errorf("%s.status: %d out of range [200, 599]", p, d.GetStatus())
	}
	out := &Direct{Status: int(d.GetStatus())}
	if b := d.GetBody(); b != nil {
		if err := onlyFields(b, p+".body", "inline_string", "inline_bytes"); err != nil {
			return nil, err
		}
		out.Body = b.GetInlineString()
		if len(b.GetInlineBytes()) > 0 {
			out.Body = string(b.GetInlineBytes())
		}
	}
	return out, nil
}

// ParseCluster converts a Cluster, failing on anything unsupported.
func ParseCluster(c *clusterv3.Cluster) (*Cluster, error) {
	p := fmt.Sprintf("cluster %q", c.GetName())
	if err := onlyFields(c, p, "name", "type", "eds_cluster_config", "connect_timeout", "typed_extension_protocol_options", "alt_stat_name"); err != nil {
		return nil, err
	}
	if c.GetName() == "" {
		return nil, fmt.Errorf("cluster: name is empty")
	}
	if c.GetType() != clusterv3.Cluster_EDS {
		return nil, unsupported(p+".type", "%v (only EDS)", c.GetType())
	}
	out := &Cluster{Name: c.GetName(), EDSName: c.GetName(), ConnectTimeout: 5 * time.Second}
	if ec := c.GetEdsClusterConfig(); ec != nil {
		if err := onlyFields(ec, p+".eds_cluster_config", "eds_config", "service_name"); err != nil {
			return nil, err
		}
		if err := adsSource(ec.GetEdsConfig(), p+".eds_cluster_config.eds_config"); err != nil {
			return nil, err
		}
		if ec.GetServiceName() != "" {
			out.EDSName = ec.GetServiceName()
		}
	} else {
		return nil, fmt.Errorf("%s.eds_cluster_config: missing", p)
	}
	if c.GetConnectTimeout() != nil {
		d, err := duration(c.GetConnectTimeout(), p+".connect_timeout")
		if err != nil {
			return nil, err
		}
		out.ConnectTimeout = d
	}
	for k, v := range c.GetTypedExtensionProtocolOptions() {
		kp := fmt.Sprintf("%s.typed_extension_protocol_options[%q]", p, k)
		if k != HTTPProtocolOptionsName {
			return nil, unsupported(kp, "extension")
		}
		po := &upstreamhttpv3.HttpProtocolOptions{}
		if err := unpack(v, kp, po); err != nil {
			return nil, err
		}
		if err := onlyFields(po, kp, "explicit_http_config"); err != nil {
			return nil, err
		}
		ex := po.GetExplicitHttpConfig()
		if ex == nil {
			return nil, fmt.Errorf("%s.explicit_http_config: missing", kp)
		}
		ep := kp + ".explicit_http_config"
		if err := onlyFields(ex, ep, "http_protocol_options", "http2_protocol_options"); err != nil {
			return nil, err
		}
		switch {
		case ex.GetHttp2ProtocolOptions() != nil:
			if err := onlyFields(ex.GetHttp2ProtocolOptions(), ep+".http2_protocol_options"); err != nil {
				return nil, err
			}
			out.HTTP2 = true
		case ex.GetHttpProtocolOptions() != nil:
			if err := onlyFields(ex.GetHttpProtocolOptions(), ep+".http_protocol_options"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: no protocol config", ep)
		}
	}
	return out, nil
}

// ParseEndpoints converts a ClusterLoadAssignment, keeping endpoints whose
// health is HEALTHY or UNKNOWN.
func ParseEndpoints(cla *endpointv3.ClusterLoadAssignment) (*Endpoints, error) {
	p := fmt.Sprintf("cluster load assignment %q", cla.GetClusterName())
	if err := onlyFields(cla, p, "cluster_name", "endpoints"); err != nil {
		return nil, err
	}
	if cla.GetClusterName() == "" {
		return nil, fmt.Errorf("cluster load assignment: cluster_name is empty")
	}
	out := &Endpoints{Cluster: cla.GetClusterName()}
	for i, le := range cla.GetEndpoints() {
		lp := fmt.Sprintf("%s.endpoints[%d]", p, i)
		if err := onlyFields(le, lp, "locality", "lb_endpoints"); err != nil {
			return nil, err
		}
		for j, lb := range le.GetLbEndpoints() {
			ep := fmt.Sprintf("%s.lb_endpoints[%d]", lp, j)
			if err := onlyFields(lb, ep, "endpoint", "health_status"); err != nil {
				return nil, err
			}
			e := lb.GetEndpoint()
			if e == nil {
				return nil, fmt.Errorf("%s.endpoint: missing", ep)
			}
			if err := onlyFields(e, ep+".endpoint", "address", "hostname"); err != nil {
				return nil, err
			}
			host, port, err := socketAddress(e.GetAddress(), ep+".endpoint.address")
			if err != nil {
				return nil, err
			}
			if port == 0 {
				return nil, fmt.Errorf("%s.endpoint.address.socket_address.port_value: 0", ep)
			}
			switch lb.GetHealthStatus() {
			case corev3.HealthStatus_UNKNOWN, corev3.HealthStatus_HEALTHY:
				out.Addrs = append(out.Addrs, net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)))
			}
		}
	}
	return out, nil
}
