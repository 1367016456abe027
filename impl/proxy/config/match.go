package config

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// VirtualHost returns the virtual host serving host (a Host header, port
// allowed): an exact domain first, then the longest "*.suffix" or
// "prefix*" wildcard, then "*". It returns nil when none matches. The
// domains are indexed on first use; t must not change after that.
func (t *RouteTable) VirtualHost(host string) *VirtualHost {
	if t == nil {
		return nil
	}
	t.indexOnce.Do(t.buildIndex)
	h := strings.ToLower(host)
	bare := h
	if strings.IndexByte(h, ':') >= 0 {
		if hp, _, err := net.SplitHostPort(h); err == nil {
			bare = hp
		}
	}
	best, ok := t.exact[h]
	if b, okBare := t.exact[bare]; okBare && (!ok || b.order < best.order) {
		best, ok = b, true
	}
	if ok {
		return best.vh
	}
	for _, w := range t.wildcards {
		if w.matches(h, bare) {
			return w.vh
		}
	}
	return t.any
}

// domainEntry is a virtual host by domain; order is the domain's position
// in the route table, the first of equal matches winning.
type domainEntry struct {
	vh    *VirtualHost
	order int
}

// wildcard is a lowercased "*suffix" or "prefix*" domain.
type wildcard struct {
	domain string
	vh     *VirtualHost
}

func (w wildcard) matches(h, bare string) bool {
	d := w.domain
	return strings.HasPrefix(d, "*") && (strings.HasSuffix(h, d[1:]) || strings.HasSuffix(bare, d[1:])) ||
		strings.HasSuffix(d, "*") && strings.HasPrefix(h, d[:len(d)-1])
}

// buildIndex indexes the lowercased domains: every domain as an exact
// match, the wildcards longest first, and the first "*".
func (t *RouteTable) buildIndex() {
	t.exact = map[string]domainEntry{}
	order := 0
	for _, vh := range t.VirtualHosts {
		for _, d := range vh.Domains {
			d = strings.ToLower(d)
			if _, dup := t.exact[d]; !dup {
				t.exact[d] = domainEntry{vh: vh, order: order}
			}
			order++
			switch {
			case d == "*":
				if t.any == nil {
					t.any = vh
				}
			case strings.HasPrefix(d, "*") || strings.HasSuffix(d, "*"):
				t.wildcards = append(t.wildcards, wildcard{domain: d, vh: vh})
			}
		}
	}
	slices.SortStableFunc(t.wildcards, func(a, b wildcard) int { return len(b.domain) - len(a.domain) })
}

// Route returns the first route of the virtual host matching r, or nil.
func (vh *VirtualHost) Route(r *http.Request) *Route {
	if vh == nil {
		return nil
	}
	path := r.URL.EscapedPath()
	for _, rt := range vh.Routes {
		if rt.Match.matches(r, path) {
			return rt
		}
	}
	return nil
}

// Matches reports whether r matches m.
func (m *Match) Matches(r *http.Request) bool { return m.matches(r, r.URL.EscapedPath()) }

// matches reports whether r, whose escaped path is path, matches m.
func (m *Match) matches(r *http.Request, path string) bool {
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
		return f.RegexRewrite.ReplaceAllString(path, f.RegexSubstitution)
	case f.PrefixRewrite != "" && (m.PathKind == PathPrefix || m.PathKind == PathSeparatedPrefix || m.PathKind == PathExact):
		return f.PrefixRewrite + strings.TrimPrefix(path, m.Path)
	}
	return path
}

// Location returns the redirect target for r, whose route matched m.
func (rd *Redirect) Location(m *Match, r *http.Request) string {
	scheme := "http"
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	if rd.Host != "" {
		host = rd.Host
	}
	switch {
	case rd.Port != 0:
		port = strconv.FormatUint(uint64(rd.Port), 10)
	case rd.Scheme != "":
		port = ""
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	hostport := host
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	path := r.URL.EscapedPath()
	query := r.URL.RawQuery
	switch {
	case rd.Path != "":
		path = rd.Path
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i+1:]
		}
	case rd.PrefixRewrite != "":
		path = rd.PrefixRewrite + strings.TrimPrefix(path, m.Path)
	case rd.RegexRewrite != nil:
		path = rd.RegexRewrite.ReplaceAllString(path, rd.RegexSubstitution)
	}
	if rd.StripQuery {
		query = ""
	}
	loc := scheme + "://" + hostport + path
	if query != "" {
		loc += "?" + query
	}
	return loc
}

// Apply removes then adds headers in h.
func (hm *HeaderMods) Apply(h http.Header) {
	for _, k := range hm.Remove {
		h.Del(k)
	}
	for _, a := range hm.Add {
		_, exists := h[http.CanonicalHeaderKey(a.Key)]
		switch a.Action {
		case AppendOrAdd:
			h.Add(a.Key, a.Value)
		case AddIfAbsent:
			if !exists {
				h.Set(a.Key, a.Value)
			}
		case OverwriteOrAdd:
			h.Set(a.Key, a.Value)
		case OverwriteIfExists:
			if exists {
				h.Set(a.Key, a.Value)
			}
		}
	}
}

// Empty reports whether hm changes nothing.
func (hm *HeaderMods) Empty() bool { return len(hm.Add) == 0 && len(hm.Remove) == 0 }
