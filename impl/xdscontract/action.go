package xdscontract

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Forward sends the request to one of the weighted backends: a
// RouteAction.
type Forward struct {
	Backends []Backend
	// TotalWeight is the sum of the weights; set by the decoder, ignored
	// by the encoder.
	TotalWeight uint64
	// NotFoundStatus answers a request whose chosen cluster is unknown:
	// 503 (Envoy's default), 404 or 500.
	NotFoundStatus int
	// Timeout is the whole-request timeout; 0 means none. The encoder
	// always sets it; the decoder reads an unset one as
	// [DefaultRouteTimeout].
	Timeout time.Duration
	Retry   *Retry
	Mirrors []Mirror
	// PrefixRewrite replaces the matched prefix (Match.Path) in the path.
	PrefixRewrite string
	// RegexRewrite, if set, rewrites the path instead.
	RegexRewrite *RegexRewrite
	HostRewrite  string
}

// Backend is one weighted cluster of a Forward.
type Backend struct {
	Cluster         string
	Weight          uint32
	RequestHeaders  HeaderMods
	ResponseHeaders HeaderMods
}

// Mirror sends a fire-and-forget copy of the request to a cluster.
type Mirror struct {
	Cluster        string
	NoShadowSuffix bool
	// PerMillion is the share of requests mirrored, in millionths: 1 to
	// 1,000,000 (all).
	PerMillion uint32
}

// million is a Mirror's PerMillion for all requests.
const million = 1_000_000

// Fraction is the share of requests mirrored, in (0, 1].
func (m *Mirror) Fraction() float64 { return float64(m.PerMillion) / million }

// RegexRewrite is Envoy's RegexMatchAndSubstitute: every match of Pattern
// is replaced with Substitution, where \1 … \9 are capture groups.
type RegexRewrite struct {
	Pattern      string
	Substitution string

	re    *regexp.Regexp
	goSub string // Substitution in Go's syntax.
}

// backref is an RE2 back-reference in a substitution.
var backref = regexp.MustCompile(`\\([0-9])`)

// NewRegexRewrite compiles pattern (not anchored) for substitution.
func NewRegexRewrite(pattern, substitution string) (*RegexRewrite, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("compile regex rewrite %q: %w", pattern, err)
	}
	return newRegexRewrite(pattern, substitution, re), nil
}

func newRegexRewrite(pattern, substitution string, re *regexp.Regexp) *RegexRewrite {
	// "\1" becomes Go's "${1}"; a literal "$" is escaped.
	goSub := backref.ReplaceAllString(strings.ReplaceAll(substitution, "$", "$$"), "$${$1}")
	return &RegexRewrite{Pattern: pattern, Substitution: substitution, re: re, goSub: goSub}
}

// Replace returns path rewritten.
func (r *RegexRewrite) Replace(path string) string { return r.re.ReplaceAllString(path, r.goSub) }

func encodeRegexRewrite(r *RegexRewrite) *matcher.RegexMatchAndSubstitute {
	return &matcher.RegexMatchAndSubstitute{Pattern: encodeRegex(r.Pattern), Substitution: r.Substitution}
}

func decodeRegexRewrite(rr *matcher.RegexMatchAndSubstitute, path string) (*RegexRewrite, error) {
	if err := OnlyFields(rr, path, "pattern", "substitution"); err != nil {
		return nil, err
	}
	pattern, re, err := decodeRegex(rr.GetPattern(), path+".pattern", false)
	if err != nil {
		return nil, err
	}
	return newRegexRewrite(pattern, rr.GetSubstitution(), re), nil
}

// Pick returns the backend for a uniform random number n in
// [0, TotalWeight). Backends of weight 0 are never returned.
func (f *Forward) Pick(n uint64) *Backend {
	for i := range f.Backends {
		w := uint64(f.Backends[i].Weight)
		if n < w {
			return &f.Backends[i]
		}
		n -= w
	}
	return nil
}

// RewritePath returns the upstream path (escaped, no query) for a request
// path matched by m.
func (f *Forward) RewritePath(m *Match, path string) string {
	switch {
	case f.RegexRewrite != nil:
		return f.RegexRewrite.Replace(path)
	case f.PrefixRewrite != "" && (m.PathKind == PathPrefix || m.PathKind == PathSeparatedPrefix || m.PathKind == PathExact):
		return f.PrefixRewrite + strings.TrimPrefix(path, m.Path)
	}
	return path
}

// notFoundCodes maps NotFoundStatus to Envoy's code.
var notFoundCodes = map[int]route.RouteAction_ClusterNotFoundResponseCode{
	503: route.RouteAction_SERVICE_UNAVAILABLE,
	404: route.RouteAction_NOT_FOUND,
	500: route.RouteAction_INTERNAL_SERVER_ERROR,
}

// EncodeRouteAction returns the RouteAction of f: always weighted
// clusters, always an explicit timeout.
func EncodeRouteAction(f *Forward) (*route.RouteAction, error) {
	code, ok := notFoundCodes[f.NotFoundStatus]
	if !ok {
		return nil, fmt.Errorf("encode route action: cluster-not-found status %d is not 503, 404 or 500", f.NotFoundStatus)
	}
	wc := &route.WeightedCluster{Clusters: make([]*route.WeightedCluster_ClusterWeight, len(f.Backends))}
	for i := range f.Backends {
		b := &f.Backends[i]
		cw := &route.WeightedCluster_ClusterWeight{Name: b.Cluster, Weight: wrapperspb.UInt32(b.Weight)}
		cw.RequestHeadersToAdd, cw.RequestHeadersToRemove = EncodeHeaderMods(b.RequestHeaders)
		cw.ResponseHeadersToAdd, cw.ResponseHeadersToRemove = EncodeHeaderMods(b.ResponseHeaders)
		wc.Clusters[i] = cw
	}
	a := &route.RouteAction{
		ClusterSpecifier:            &route.RouteAction_WeightedClusters{WeightedClusters: wc},
		ClusterNotFoundResponseCode: code,
		// Always set: Envoy's default is 15s; 0 disables the timeout.
		Timeout:       durationpb.New(f.Timeout),
		PrefixRewrite: f.PrefixRewrite,
	}
	if f.Retry != nil {
		a.RetryPolicy = EncodeRetry(f.Retry)
	}
	for _, m := range f.Mirrors {
		mp := &route.RouteAction_RequestMirrorPolicy{Cluster: m.Cluster, DisableShadowHostSuffixAppend: m.NoShadowSuffix}
		if m.PerMillion < million {
			mp.RuntimeFraction = &core.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{
				Numerator:   m.PerMillion,
				Denominator: typev3.FractionalPercent_MILLION,
			}}
		}
		a.RequestMirrorPolicies = append(a.RequestMirrorPolicies, mp)
	}
	if f.RegexRewrite != nil {
		a.RegexRewrite = encodeRegexRewrite(f.RegexRewrite)
	}
	if f.HostRewrite != "" {
		a.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: f.HostRewrite}
	}
	return a, nil
}

// DecodeRouteAction decodes a RouteAction; path names it in errors.
func DecodeRouteAction(a *route.RouteAction, path string) (*Forward, error) {
	if err := OnlyFields(a, path, "cluster", "weighted_clusters", "cluster_not_found_response_code", "timeout",
		"retry_policy", "request_mirror_policies", "prefix_rewrite", "regex_rewrite", "host_rewrite_literal"); err != nil {
		return nil, err
	}
	out := &Forward{Timeout: DefaultRouteTimeout}
	var err error
	if out.NotFoundStatus, err = decodeNotFoundStatus(a.GetClusterNotFoundResponseCode(), path+".cluster_not_found_response_code"); err != nil {
		return nil, err
	}
	if out.Backends, out.TotalWeight, err = decodeClusterSpecifier(a, path); err != nil {
		return nil, err
	}
	if a.GetTimeout() != nil {
		d, err := DecodeDuration(a.GetTimeout(), path+".timeout")
		if err != nil {
			return nil, err
		}
		out.Timeout = d
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		r, err := DecodeRetry(rp, path+".retry_policy")
		if err != nil {
			return nil, err
		}
		out.Retry = r
	}
	if out.Mirrors, err = decodeMirrors(a.GetRequestMirrorPolicies(), path); err != nil {
		return nil, err
	}
	out.PrefixRewrite = a.GetPrefixRewrite()
	if rr := a.GetRegexRewrite(); rr != nil {
		if out.PrefixRewrite != "" {
			return nil, fmt.Errorf("%s: both prefix_rewrite and regex_rewrite set", path)
		}
		r, err := decodeRegexRewrite(rr, path+".regex_rewrite")
		if err != nil {
			return nil, err
		}
		out.RegexRewrite = r
	}
	out.HostRewrite = a.GetHostRewriteLiteral()
	return out, nil
}

// decodeNotFoundStatus returns the HTTP status of a cluster-not-found
// response code; path names the code in errors.
func decodeNotFoundStatus(code route.RouteAction_ClusterNotFoundResponseCode, path string) (int, error) {
	for status, c := range notFoundCodes {
		if c == code {
			return status, nil
		}
	}
	return 0, Unsupported(path, "%v", code)
}

// decodeClusterSpecifier decodes a's cluster or weighted clusters into
// backends and their total weight; path names a in errors.
func decodeClusterSpecifier(a *route.RouteAction, path string) ([]Backend, uint64, error) {
	switch cs := a.GetClusterSpecifier().(type) {
	case *route.RouteAction_Cluster:
		return []Backend{{Cluster: cs.Cluster, Weight: 1}}, 1, nil
	case *route.RouteAction_WeightedClusters:
		return decodeWeightedClusters(cs.WeightedClusters, path+".weighted_clusters")
	default:
		return nil, 0, Unsupported(path, "cluster specifier %T", cs)
	}
}

// decodeWeightedClusters decodes weighted clusters into backends and
// their total weight, which must not be 0 and must match total_weight if
// set; path names wc in errors.
func decodeWeightedClusters(wc *route.WeightedCluster, path string) ([]Backend, uint64, error) {
	if err := OnlyFields(wc, path, "clusters", "total_weight"); err != nil {
		return nil, 0, err
	}
	var out []Backend
	var total uint64
	for i, c := range wc.GetClusters() {
		b, err := decodeBackend(c, fmt.Sprintf("%s.clusters[%d]", path, i))
		if err != nil {
			return nil, 0, err
		}
		total += uint64(b.Weight)
		out = append(out, b)
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("%s: total weight is 0 (use direct_response for all-zero weights)", path)
	}
	if tw := wc.GetTotalWeight(); tw != nil && uint64(tw.GetValue()) != total {
		return nil, 0, fmt.Errorf("%s.total_weight: %d, but the weights sum to %d", path, tw.GetValue(), total)
	}
	return out, total, nil
}

// decodeBackend decodes one weighted cluster; path names it in errors.
func decodeBackend(c *route.WeightedCluster_ClusterWeight, path string) (Backend, error) {
	if err := OnlyFields(c, path, "name", "weight", "request_headers_to_add", "request_headers_to_remove",
		"response_headers_to_add", "response_headers_to_remove"); err != nil {
		return Backend{}, err
	}
	if c.GetName() == "" {
		return Backend{}, fmt.Errorf("%s.name: empty", path)
	}
	b := Backend{Cluster: c.GetName(), Weight: c.GetWeight().GetValue()}
	var err error
	if b.RequestHeaders, err = DecodeHeaderMods(c.GetRequestHeadersToAdd(), c.GetRequestHeadersToRemove(), path+".request_headers_to_add"); err != nil {
		return Backend{}, err
	}
	if b.ResponseHeaders, err = DecodeHeaderMods(c.GetResponseHeadersToAdd(), c.GetResponseHeadersToRemove(), path+".response_headers_to_add"); err != nil {
		return Backend{}, err
	}
	return b, nil
}

// decodeMirrors decodes request mirror policies; path names the route
// action in errors.
func decodeMirrors(ms []*route.RouteAction_RequestMirrorPolicy, path string) ([]Mirror, error) {
	var out []Mirror
	for i, m := range ms {
		mp := fmt.Sprintf("%s.request_mirror_policies[%d]", path, i)
		if err := OnlyFields(m, mp, "cluster", "disable_shadow_host_suffix_append", "runtime_fraction"); err != nil {
			return nil, err
		}
		if m.GetCluster() == "" {
			return nil, fmt.Errorf("%s.cluster: empty", mp)
		}
		mirror := Mirror{Cluster: m.GetCluster(), NoShadowSuffix: m.GetDisableShadowHostSuffixAppend(), PerMillion: million}
		if rf := m.GetRuntimeFraction(); rf != nil {
			f, err := decodeFraction(rf, mp+".runtime_fraction")
			if err != nil {
				return nil, err
			}
			mirror.PerMillion = f
		}
		out = append(out, mirror)
	}
	return out, nil
}

// decodeFraction returns a RuntimeFractionalPercent's default value in
// millionths, at most all. The proxy has no runtime layer, so a
// runtime_key never overrides it (as in an Envoy without runtime
// overrides).
func decodeFraction(rf *core.RuntimeFractionalPercent, path string) (uint32, error) {
	if err := OnlyFields(rf, path, "default_value", "runtime_key"); err != nil {
		return 0, err
	}
	dv := rf.GetDefaultValue()
	if dv == nil {
		return 0, fmt.Errorf("%s.default_value: missing", path)
	}
	if err := OnlyFields(dv, path+".default_value", "numerator", "denominator"); err != nil {
		return 0, err
	}
	var scale uint64
	switch dv.GetDenominator() {
	case typev3.FractionalPercent_HUNDRED:
		scale = million / 100
	case typev3.FractionalPercent_TEN_THOUSAND:
		scale = million / 10_000
	case typev3.FractionalPercent_MILLION:
		scale = 1
	default:
		return 0, Unsupported(path+".default_value.denominator", "%v", dv.GetDenominator())
	}
	return uint32(min(million, uint64(dv.GetNumerator())*scale)), nil
}
