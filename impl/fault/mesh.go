package fault

import (
	"cmp"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gammaproof/gammaproof/impl/model"
)

// eachRoute calls f on every route of every listener.
func eachRoute(m *model.Mesh, f func(l *model.Listener, r *model.Route)) {
	for i := range m.Listeners {
		l := &m.Listeners[i]
		for j := range l.Routes {
			f(l, &l.Routes[j])
		}
	}
}

// skewSplits moves points percentage points from the largest backend of
// every split to the smallest; the route's weights become shares out of
// 10000.
func skewSplits(points int) func(m *model.Mesh) {
	return func(m *model.Mesh) {
		eachRoute(m, func(_ *model.Listener, r *model.Route) {
			if len(r.Backends) < 2 {
				return
			}
			var total uint64
			for _, b := range r.Backends {
				total += uint64(b.Weight)
			}
			if total == 0 {
				return
			}
			shares := make([]int64, len(r.Backends))
			var sum int64
			hi, lo := 0, 0
			for i, b := range r.Backends {
				shares[i] = int64(uint64(b.Weight) * 10000 / total)
				sum += shares[i]
				if b.Weight > r.Backends[hi].Weight {
					hi = i
				}
				if b.Weight <= r.Backends[lo].Weight {
					lo = i
				}
			}
			if hi == lo {
				lo = len(r.Backends) - 1 // equal weights: skew toward the last.
				if hi == lo {
					lo = 0
				}
			}
			shares[hi] += 10000 - sum // rounding rest to the largest.
			move := int64(points) * 100
			if shares[hi] <= move {
				return
			}
			shares[hi] -= move
			shares[lo] += move
			for i := range r.Backends {
				r.Backends[i].Weight = uint32(shares[i])
			}
		})
	}
}

// equalWeights gives every backend of every split of HTTPRoutes (grpc
// false) or GRPCRoutes (grpc true) the same weight.
func equalWeights(grpc bool) func(m *model.Mesh) {
	return func(m *model.Mesh) {
		eachRoute(m, func(_ *model.Listener, r *model.Route) {
			if r.GRPC != grpc || len(r.Backends) < 2 {
				return
			}
			for i := range r.Backends {
				r.Backends[i].Weight = 1
			}
		})
	}
}

// sortListeners restores the mesh's order of listeners by name.
func sortListeners(m *model.Mesh) {
	slices.SortFunc(m.Listeners, func(a, b model.Listener) int { return strings.Compare(a.Name, b.Name) })
}

// servicePort keys a listener's Service port.
type servicePort struct {
	svc  model.ServiceRef
	port int32
}

func keyOf(l *model.Listener) servicePort { return servicePort{l.Service, l.Port} }

// defaultName is the name of the listener every caller without its own
// consumer listener gets.
func defaultName(l *model.Listener) string {
	name, _, _ := strings.Cut(l.Name, "~from~")
	return name
}

// consumerEverywhere applies each consumer listener's routes to every
// caller of the Service port: the default listener takes them.
func consumerEverywhere(m *model.Mesh) {
	defaults := map[servicePort]int{}
	for i, l := range m.Listeners {
		if l.CallerNamespace == "" {
			defaults[keyOf(&l)] = i
		}
	}
	var added []model.Listener
	for _, l := range m.Listeners {
		if l.CallerNamespace == "" {
			continue
		}
		if i, ok := defaults[keyOf(&l)]; ok {
			m.Listeners[i].Routes = slices.Clone(l.Routes)
			continue
		}
		d := l
		d.CallerNamespace, d.Name = "", defaultName(&l)
		d.Routes = slices.Clone(l.Routes)
		defaults[keyOf(&l)] = -1
		added = append(added, d)
	}
	m.Listeners = append(m.Listeners, added...)
	sortListeners(m)
}

// consumerIgnored drops every consumer listener.
func consumerIgnored(m *model.Mesh) {
	m.Listeners = slices.DeleteFunc(m.Listeners, func(l model.Listener) bool { return l.CallerNamespace != "" })
}

// producerOwnNamespace narrows every default listener to callers in the
// Service's own namespace.
func producerOwnNamespace(m *model.Mesh) {
	own := map[servicePort]bool{}
	for _, l := range m.Listeners {
		if l.CallerNamespace != "" && l.CallerNamespace == l.Service.Namespace {
			own[keyOf(&l)] = true
		}
	}
	out := m.Listeners[:0]
	for _, l := range m.Listeners {
		if l.CallerNamespace == "" {
			if own[keyOf(&l)] {
				continue // the namespace has its own consumer listener.
			}
			l.CallerNamespace = l.Service.Namespace
			l.Name += "~from~" + l.Service.Namespace
		}
		out = append(out, l)
	}
	m.Listeners = out
	sortListeners(m)
}

// hostHeaderMatching makes every route also require a Host naming the
// listener's Service (short name, with namespace, FQDN or a ClusterIP,
// with or without the port), as a mesh routing by Host would.
func hostHeaderMatching(m *model.Mesh) {
	for i := range m.Listeners {
		l := &m.Listeners[i]
		names := []string{regexp.QuoteMeta(l.Service.Name) + `(\.` + regexp.QuoteMeta(l.Service.Namespace) + `(\.svc(\.cluster\.local)?)?)?`}
		for _, ip := range l.VIPs {
			names = append(names, regexp.QuoteMeta(ip))
		}
		host := model.StringMatch{Name: "host", Regex: true,
			Value: "(" + strings.Join(names, "|") + ")(:" + strconv.Itoa(int(l.Port)) + ")?"}
		for j := range l.Routes {
			r := &l.Routes[j]
			r.Match.Headers = append(slices.Clone(r.Match.Headers), host)
			slices.SortStableFunc(r.Match.Headers, func(a, b model.StringMatch) int { return strings.Compare(a.Name, b.Name) })
		}
	}
}

// prefixByCharacters turns PathPrefix matches into character prefixes
// (a regex "<prefix>.*"), except where a ReplacePrefixMatch needs the
// prefix.
func prefixByCharacters(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		if r.Match.PathType != model.PathPrefix || strings.TrimRight(r.Match.PathValue, "/") == "" || replacesPrefix(r) {
			return
		}
		r.Match.PathType = model.PathRegex
		r.Match.PathValue = regexp.QuoteMeta(strings.TrimRight(r.Match.PathValue, "/")) + ".*"
	})
}

func replacesPrefix(r *model.Route) bool {
	if r.Rewrite != nil && r.Rewrite.Path != nil && r.Rewrite.Path.Type == model.ReplacePrefixMatch {
		return true
	}
	return r.Redirect != nil && r.Redirect.Path != nil && r.Redirect.Path.Type == model.ReplacePrefixMatch
}

// matchesNothing is an RE2 expression no value matches.
const matchesNothing = `[^\x00-\x{10FFFF}]`

// headerNamesCaseSensitive compares header names as a case-sensitive mesh
// would: the route's name (lower-cased by the model, as a route usually
// spells it) against the name on the wire, which Go clients such as the
// suite's send in canonical form (Version). Where the two differ the
// match can never hold.
func headerNamesCaseSensitive(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		hs := slices.Clone(r.Match.Headers)
		for i, h := range hs {
			if textproto.CanonicalMIMEHeaderKey(h.Name) != h.Name {
				hs[i].Value, hs[i].Regex = matchesNothing, true
			}
		}
		r.Match.Headers = hs
	})
}

// queryIgnored drops every query parameter match.
func queryIgnored(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) { r.Match.QueryParams = nil })
}

// ruleOrder orders each listener's routes by route (in the order the
// model first lists them), then rule, then match: list order instead of
// the spec's precedence.
func ruleOrder(m *model.Mesh) {
	for i := range m.Listeners {
		l := &m.Listeners[i]
		first := map[string]int{}
		for j, r := range l.Routes {
			k := r.Source.Kind + "/" + r.Source.Namespace + "/" + r.Source.Name
			if _, ok := first[k]; !ok {
				first[k] = j
			}
		}
		slices.SortStableFunc(l.Routes, func(a, b model.Route) int {
			ka := first[a.Source.Kind+"/"+a.Source.Namespace+"/"+a.Source.Name]
			kb := first[b.Source.Kind+"/"+b.Source.Namespace+"/"+b.Source.Name]
			return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(a.Source.Rule, b.Source.Rule), cmp.Compare(a.Source.Match, b.Source.Match))
		})
	}
}

// addReplaces turns every request header "add" into a "set".
func addReplaces(m *model.Mesh) {
	replace := func(h *model.HeaderModifier) {
		if len(h.Add) == 0 {
			return
		}
		h.Set = append(slices.Clone(h.Set), h.Add...)
		h.Add = nil
	}
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		replace(&r.RequestHeaders)
		r.Backends = slices.Clone(r.Backends)
		for i := range r.Backends {
			replace(&r.Backends[i].RequestHeaders)
		}
	})
}

// rewriteDoubleSlash makes every ReplacePrefixMatch rewrite end in "//",
// so the rest of the path follows an extra slash.
func rewriteDoubleSlash(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		if r.Rewrite == nil || r.Rewrite.Path == nil || r.Rewrite.Path.Type != model.ReplacePrefixMatch {
			return
		}
		rw, p := *r.Rewrite, *r.Rewrite.Path
		p.Value = strings.TrimRight(p.Value, "/") + "//"
		rw.Path = &p
		r.Rewrite = &rw
	})
}

// redirectDropsPort ignores every redirect's port.
func redirectDropsPort(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		if r.Redirect == nil || r.Redirect.Port == nil {
			return
		}
		rd := *r.Redirect
		rd.Port = nil
		r.Redirect = &rd
	})
}

// timeoutsIgnored drops every rule timeout.
func timeoutsIgnored(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) { r.Timeouts = model.Timeouts{} })
}

// defaultRetries is how often a route without a retry stanza retries under
// retries-on-post, as gammaproof's own default does for safe methods.
const defaultRetries = 5

// retryEveryMethod gives every forwarding route without a retry stanza
// one that retries connection failures and resets of any method.
func retryEveryMethod(m *model.Mesh) {
	eachRoute(m, func(_ *model.Listener, r *model.Route) {
		if r.Retry != nil || r.Redirect != nil || r.DirectResponse500 {
			return
		}
		r.Retry = &model.Retry{Attempts: defaultRetries}
	})
}
