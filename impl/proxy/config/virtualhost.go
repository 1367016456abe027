package config

import (
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
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
func (vh *VirtualHost) Route(r *http.Request) *xdscontract.Route {
	if vh == nil {
		return nil
	}
	path := r.URL.EscapedPath()
	for _, rt := range vh.Routes {
		if rt.Match.MatchesPath(r, path) {
			return rt
		}
	}
	return nil
}
