package model

import (
	"cmp"
	"slices"
)

// entry is one (rule, match) of an attached route, with its sort keys
// (route.Match is the match).
type entry struct {
	route Route
	// gRPC precedence: characters in the matching service and method.
	grpcService, grpcMethod int
	r                       *routeObj
	rule                    int
	matchIx                 int
}

// appendEntries appends the route's valid rules, expanded into data-plane
// routes, to out for a listener whose parent Service port has the cluster
// parentCluster.
func (r *routeObj) appendEntries(out []entry, parent ServiceRef, port int32, parentCluster string) []entry {
	for _, ru := range r.rules {
		for mi, m := range ru.matches {
			src := RouteRef{Kind: r.kind, Namespace: r.ns, Name: r.name, Rule: ru.index, RuleName: ru.name, Match: mi}
			rt := Route{
				Name:            src.String(),
				Source:          src,
				GRPC:            r.kind == kindGRPCRoute,
				Match:           m.m,
				Redirect:        ru.redirect,
				RequestHeaders:  ru.reqH,
				ResponseHeaders: ru.respH,
				Rewrite:         ru.rewrite,
				Mirrors:         ru.mirrors,
				Timeouts:        ru.timeouts,
				Retry:           ru.retry,
			}
			switch {
			case ru.direct500:
				rt.Redirect, rt.DirectResponse500 = nil, true
			case ru.redirect != nil:
			case ru.toParent:
				// Implementation-specific: a rule without backendRefs forwards
				// to the parent Service port itself.
				rt.Backends = []Backend{{Cluster: parentCluster, Service: parent, Port: port, Weight: 1}}
			default:
				rt.Backends = ru.backends
			}
			out = append(out, entry{route: rt, grpcService: m.grpcService, grpcMethod: m.grpcMethod, r: r, rule: ru.index, matchIx: mi})
		}
	}
	return out
}

// sortEntries orders entries by the spec's match precedence.
//
// HTTPRoute: "Across all rules specified on applicable Routes, precedence
// must be given to the match having: "Exact" path match. "Prefix" path match
// with largest number of characters. Method match. Largest number of header
// matches. Largest number of query param matches." RegularExpression paths
// ("implementation-specific") rank after Exact and before PathPrefix, longer
// expressions first.
//
// GRPCRoute: "Precedence MUST be given to the rule with the largest number of:
// ... Characters in a matching service. Characters in a matching method.
// Header matches." (hostnames are ignored in a mesh, GEP-1294).
//
// Ties: "The oldest Route based on creation timestamp. The Route appearing
// first in alphabetical order by "{namespace}/{name}"." then "the FIRST
// matching rule (in list order)".
func sortEntries(es []entry) {
	slices.SortStableFunc(es, func(a, b entry) int {
		if a.route.GRPC && b.route.GRPC {
			if c := cmp.Or(
				-cmp.Compare(a.grpcService, b.grpcService),
				-cmp.Compare(a.grpcMethod, b.grpcMethod),
				-cmp.Compare(len(a.route.Match.Headers), len(b.route.Match.Headers)),
			); c != 0 {
				return c
			}
		} else {
			am, bm := &a.route.Match, &b.route.Match
			if c := cmp.Or(
				cmp.Compare(pathRank(am.PathType), pathRank(bm.PathType)),
				-cmp.Compare(len(am.PathValue), len(bm.PathValue)),
				-cmp.Compare(boolInt(am.Method != ""), boolInt(bm.Method != "")),
				-cmp.Compare(len(am.Headers), len(bm.Headers)),
				-cmp.Compare(len(am.QueryParams), len(bm.QueryParams)),
			); c != 0 {
				return c
			}
		}
		if c := a.r.created.Compare(b.r.created.Time); c != 0 {
			return c
		}
		return cmp.Or(
			cmp.Compare(a.r.ns, b.r.ns),
			cmp.Compare(a.r.name, b.r.name),
			cmp.Compare(a.r.kind, b.r.kind),
			cmp.Compare(a.rule, b.rule),
			cmp.Compare(a.matchIx, b.matchIx),
		)
	})
}

func pathRank(t PathMatchType) int {
	switch t {
	case PathExact:
		return 0
	case PathRegex:
		return 1
	}
	return 2
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
