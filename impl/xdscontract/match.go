package xdscontract

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// PathKind says how Match.Path is compared.
type PathKind int

// Path match kinds.
const (
	PathPrefix PathKind = iota
	PathExact
	// PathSeparatedPrefix matches by path elements, as Gateway API's
	// PathPrefix does: "/foo" matches "/foo", "/foo/" and "/foo/x" but not
	// "/foobar".
	PathSeparatedPrefix
	PathRegex
)

// Match is a route's match: path, headers (":method" included) and query
// parameters, all of which must match.
type Match struct {
	PathKind PathKind
	// Path is the prefix or path, or for PathRegex the RE2 expression the
	// whole path must match.
	Path string
	// Regex is Path compiled (anchored) for PathRegex; set by the decoder.
	Regex   *regexp.Regexp
	Headers []HeaderMatch
	Query   []QueryMatch
}

// StringKind says how a StringMatch compares.
type StringKind int

// String match kinds.
const (
	StringExact StringKind = iota
	StringPrefix
	StringSuffix
	StringContains
	StringRegex
)

// StringMatch is Envoy's StringMatcher.
type StringMatch struct {
	Kind StringKind
	// Value is compared with, or for StringRegex the RE2 expression the
	// whole value must match.
	Value string
	// Regex is Value compiled (anchored) for StringRegex; set by the
	// decoder.
	Regex      *regexp.Regexp
	IgnoreCase bool
}

// HeaderMatch matches one request header. With String nil it matches on
// presence (Present says whether the header must be present or absent).
type HeaderMatch struct {
	Name    string
	String  *StringMatch
	Present bool
	Invert  bool
}

// QueryMatch matches one query parameter, by value or (String nil) by
// presence.
type QueryMatch struct {
	Name   string
	String *StringMatch
}

// Matches reports whether r matches m.
func (m *Match) Matches(r *http.Request) bool { return m.MatchesPath(r, r.URL.EscapedPath()) }

// MatchesPath reports whether r, whose escaped path is path, matches m.
func (m *Match) MatchesPath(r *http.Request, path string) bool {
	if !m.matchPath(path) {
		return false
	}
	for i := range m.Headers {
		if !m.Headers[i].Matches(r) {
			return false
		}
	}
	if len(m.Query) > 0 {
		q := r.URL.Query()
		for i := range m.Query {
			if !m.Query[i].Matches(q) {
				return false
			}
		}
	}
	return true
}

func (m *Match) matchPath(p string) bool {
	switch m.PathKind {
	case PathExact:
		return p == m.Path
	case PathSeparatedPrefix:
		if !strings.HasPrefix(p, m.Path) {
			return false
		}
		return len(p) == len(m.Path) || p[len(m.Path)] == '/' || strings.HasSuffix(m.Path, "/")
	case PathRegex:
		return m.Regex.MatchString(p)
	default:
		return strings.HasPrefix(p, m.Path)
	}
}

// Matches reports whether s matches.
func (s *StringMatch) Matches(v string) bool {
	want := s.Value
	if s.IgnoreCase && s.Kind != StringRegex {
		v, want = strings.ToLower(v), strings.ToLower(want)
	}
	switch s.Kind {
	case StringPrefix:
		return strings.HasPrefix(v, want)
	case StringSuffix:
		return strings.HasSuffix(v, want)
	case StringContains:
		return strings.Contains(v, want)
	case StringRegex:
		return s.Regex.MatchString(v)
	default:
		return v == want
	}
}

// Matches reports whether the request's header matches h. ":method",
// ":path", ":authority" and ":scheme" are the HTTP/2 pseudo-headers.
func (h *HeaderMatch) Matches(r *http.Request) bool {
	var vals []string
	switch h.Name {
	case ":method":
		vals = []string{r.Method}
	case ":path":
		vals = []string{r.URL.RequestURI()}
	case ":authority", "host":
		vals = []string{r.Host}
	case ":scheme":
		vals = []string{"http"}
	default:
		vals = r.Header.Values(h.Name)
	}
	var ok bool
	if h.String == nil {
		ok = (len(vals) > 0) == h.Present
	} else if len(vals) > 0 {
		// Envoy matches multiple values joined with ",".
		ok = h.String.Matches(strings.Join(vals, ","))
	}
	return ok != h.Invert
}

// Matches reports whether the query has the parameter (and value).
func (q *QueryMatch) Matches(vals url.Values) bool {
	vs, ok := vals[q.Name]
	if !ok {
		return false
	}
	if q.String == nil {
		return true
	}
	return len(vs) > 0 && q.String.Matches(vs[0])
}

// EncodeMatch returns the RouteMatch of m.
func EncodeMatch(m *Match) *route.RouteMatch {
	out := &route.RouteMatch{}
	encodePathSpecifier(out, m.PathKind, m.Path)
	if len(m.Headers) > 0 {
		out.Headers = make([]*route.HeaderMatcher, len(m.Headers))
		for i := range m.Headers {
			out.Headers[i] = EncodeHeaderMatch(&m.Headers[i])
		}
	}
	if len(m.Query) > 0 {
		out.QueryParameters = make([]*route.QueryParameterMatcher, len(m.Query))
		for i, q := range m.Query {
			qm := &route.QueryParameterMatcher{Name: q.Name}
			if q.String != nil {
				qm.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: EncodeStringMatch(q.String)}
			} else {
				qm.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}
			}
			out.QueryParameters[i] = qm
		}
	}
	return out
}

// DecodeMatch decodes a RouteMatch; path names it in errors.
func DecodeMatch(m *route.RouteMatch, path string) (Match, error) {
	var out Match
	if m == nil {
		return out, fmt.Errorf("%s: missing", path)
	}
	if err := OnlyFields(m, path, "prefix", "path", "safe_regex", "path_separated_prefix", "headers", "query_parameters", "case_sensitive"); err != nil {
		return out, err
	}
	if cs := m.GetCaseSensitive(); cs != nil && !cs.GetValue() {
		return out, Unsupported(path+".case_sensitive", "false")
	}
	kind, p, re, err := decodePathSpecifier(m, path)
	if err != nil {
		return out, err
	}
	out.PathKind, out.Path, out.Regex = kind, p, re
	if out.Headers, err = decodeHeaderMatches(m.GetHeaders(), path+".headers"); err != nil {
		return out, err
	}
	for i, q := range m.GetQueryParameters() {
		qp := fmt.Sprintf("%s.query_parameters[%d]", path, i)
		if err := OnlyFields(q, qp, "name", "string_match", "present_match"); err != nil {
			return out, err
		}
		qm := QueryMatch{Name: q.GetName()}
		switch {
		case q.GetStringMatch() != nil:
			sm, err := DecodeStringMatch(q.GetStringMatch(), qp+".string_match")
			if err != nil {
				return out, err
			}
			qm.String = sm
		case q.GetPresentMatch():
		default:
			return out, Unsupported(qp, "present_match false or no matcher")
		}
		out.Query = append(out.Query, qm)
	}
	return out, nil
}

// decodePathSpecifier returns the path match of m: its kind, its path or
// expression, and for PathRegex the compiled expression.
func decodePathSpecifier(m *route.RouteMatch, path string) (PathKind, string, *regexp.Regexp, error) {
	switch ps := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		return PathPrefix, ps.Prefix, nil, nil
	case *route.RouteMatch_Path:
		return PathExact, ps.Path, nil, nil
	case *route.RouteMatch_PathSeparatedPrefix:
		return PathSeparatedPrefix, ps.PathSeparatedPrefix, nil, nil
	case *route.RouteMatch_SafeRegex:
		expr, re, err := decodeRegex(ps.SafeRegex, path+".safe_regex", true)
		return PathRegex, expr, re, err
	default:
		return 0, "", nil, Unsupported(path, "path specifier %T", ps)
	}
}

// encodePathSpecifier sets the path match of out, of kind with path or
// expression p: the inverse of [decodePathSpecifier].
func encodePathSpecifier(out *route.RouteMatch, kind PathKind, p string) {
	switch kind {
	case PathExact:
		out.PathSpecifier = &route.RouteMatch_Path{Path: p}
	case PathSeparatedPrefix:
		out.PathSpecifier = &route.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p}
	case PathRegex:
		out.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: encodeRegex(p)}
	default:
		out.PathSpecifier = &route.RouteMatch_Prefix{Prefix: p}
	}
}

// EncodeStringMatch returns the StringMatcher of s.
func EncodeStringMatch(s *StringMatch) *matcher.StringMatcher {
	out := &matcher.StringMatcher{IgnoreCase: s.IgnoreCase}
	switch s.Kind {
	case StringPrefix:
		out.MatchPattern = &matcher.StringMatcher_Prefix{Prefix: s.Value}
	case StringSuffix:
		out.MatchPattern = &matcher.StringMatcher_Suffix{Suffix: s.Value}
	case StringContains:
		out.MatchPattern = &matcher.StringMatcher_Contains{Contains: s.Value}
	case StringRegex:
		out.MatchPattern = &matcher.StringMatcher_SafeRegex{SafeRegex: encodeRegex(s.Value)}
	default:
		out.MatchPattern = &matcher.StringMatcher_Exact{Exact: s.Value}
	}
	return out
}

// DecodeStringMatch decodes a StringMatcher; path names it in errors.
func DecodeStringMatch(s *matcher.StringMatcher, path string) (*StringMatch, error) {
	if err := OnlyFields(s, path, "exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"); err != nil {
		return nil, err
	}
	out := &StringMatch{IgnoreCase: s.GetIgnoreCase()}
	switch mp := s.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		out.Kind, out.Value = StringExact, mp.Exact
	case *matcher.StringMatcher_Prefix:
		out.Kind, out.Value = StringPrefix, mp.Prefix
	case *matcher.StringMatcher_Suffix:
		out.Kind, out.Value = StringSuffix, mp.Suffix
	case *matcher.StringMatcher_Contains:
		out.Kind, out.Value = StringContains, mp.Contains
	case *matcher.StringMatcher_SafeRegex:
		expr, re, err := decodeRegex(mp.SafeRegex, path+".safe_regex", true)
		if err != nil {
			return nil, err
		}
		if s.GetIgnoreCase() {
			return nil, Unsupported(path+".ignore_case", "with safe_regex")
		}
		out.Kind, out.Value, out.Regex = StringRegex, expr, re
	default:
		return nil, Unsupported(path, "match pattern %T", mp)
	}
	return out, nil
}

// EncodeHeaderMatch returns the HeaderMatcher of h, in the string_match
// or present_match form.
func EncodeHeaderMatch(h *HeaderMatch) *route.HeaderMatcher {
	out := &route.HeaderMatcher{Name: h.Name, InvertMatch: h.Invert}
	if h.String != nil {
		out.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: EncodeStringMatch(h.String)}
	} else {
		out.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: h.Present}
	}
	return out
}

// decodeHeaderMatches decodes a list of HeaderMatchers; path names the
// list in errors. An empty list is nil.
func decodeHeaderMatches(hs []*route.HeaderMatcher, path string) ([]HeaderMatch, error) {
	var out []HeaderMatch
	for i, h := range hs {
		hm, err := DecodeHeaderMatch(h, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, hm)
	}
	return out, nil
}

// DecodeHeaderMatch decodes a HeaderMatcher, the deprecated *_match forms
// included; the name is lower-cased. path names it in errors.
func DecodeHeaderMatch(h *route.HeaderMatcher, path string) (HeaderMatch, error) {
	out := HeaderMatch{Name: strings.ToLower(h.GetName()), Invert: h.GetInvertMatch()}
	if err := OnlyFields(h, path, "name", "exact_match", "safe_regex_match", "present_match", "prefix_match", "suffix_match", "contains_match", "string_match", "invert_match"); err != nil {
		return out, err
	}
	if out.Name == "" {
		return out, fmt.Errorf("%s.name: empty", path)
	}
	switch hs := h.GetHeaderMatchSpecifier().(type) {
	case *route.HeaderMatcher_ExactMatch:
		out.String = &StringMatch{Kind: StringExact, Value: hs.ExactMatch}
	case *route.HeaderMatcher_PrefixMatch:
		out.String = &StringMatch{Kind: StringPrefix, Value: hs.PrefixMatch}
	case *route.HeaderMatcher_SuffixMatch:
		out.String = &StringMatch{Kind: StringSuffix, Value: hs.SuffixMatch}
	case *route.HeaderMatcher_ContainsMatch:
		out.String = &StringMatch{Kind: StringContains, Value: hs.ContainsMatch}
	case *route.HeaderMatcher_SafeRegexMatch:
		expr, re, err := decodeRegex(hs.SafeRegexMatch, path+".safe_regex_match", true)
		if err != nil {
			return out, err
		}
		out.String = &StringMatch{Kind: StringRegex, Value: expr, Regex: re}
	case *route.HeaderMatcher_StringMatch:
		sm, err := DecodeStringMatch(hs.StringMatch, path+".string_match")
		if err != nil {
			return out, err
		}
		out.String = sm
	case *route.HeaderMatcher_PresentMatch:
		out.Present = hs.PresentMatch
	case nil:
		// Envoy: no specifier means "present".
		out.Present = true
	default:
		return out, Unsupported(path, "header match specifier %T", hs)
	}
	return out, nil
}
