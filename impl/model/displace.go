package model

import (
	"fmt"
	"slices"
	"strings"
)

// displaceHTTPRoutes applies GEP-1294 "Route types": "If multiple routes
// with different types both bind to the same Service and Port pair, only a
// single route type should be applied. The rejected routes should be
// ignored and have the RouteConditionAccepted status set to the (new)
// reason RouteReasonConflicted." GRPCRoute comes first in the GEP's order,
// so a GRPCRoute displaces the HTTPRoutes bound to its Service port —
// within the bounds of GEP-1294 "Namespace boundaries": "consumer routes
// are scoped only the same namespace. This ensures that for traffic
// between two namespaces, another unrelated namespace cannot modify their
// traffic." A GRPCRoute therefore displaces an HTTPRoute on the same
// Service port when
//   - both are in the same namespace (the same listener), or
//   - the GRPCRoute is a producer route (in the Service's namespace, whose
//     routes apply to every caller) and the HTTPRoute a consumer route:
//     the consumer's callers then get the producer's routes.
//
// A consumer GRPCRoute displaces no route of another namespace: neither the
// producer's HTTPRoutes, which serve every other caller, nor another
// consumer namespace's. There the GEP's single route type per Service and
// port gives way to its namespace boundaries, both routes stay Accepted
// and each one's status says so (notes).
func displaceHTTPRoutes(groups map[groupKey][]attachment) {
	// The listeners of each Service port, sorted so that the notes come out
	// the same for any order of the input.
	byPort := map[svcPortKey][]groupKey{}
	for k := range groups {
		byPort[k.svcPortKey] = append(byPort[k.svcPortKey], k)
	}
	for sp, keys := range byPort {
		slices.SortFunc(keys, func(a, b groupKey) int { return strings.Compare(a.caller, b.caller) })
		producer := groupKey{sp, ""}
		producerGRPC := routeNames(groups[producer], kindGRPCRoute)
		for _, k := range keys {
			winners := routeNames(groups[k], kindGRPCRoute)
			why := "GRPCRoute takes precedence over HTTPRoute (GEP-1294 \"Route types\")"
			if k.caller != "" && len(producerGRPC) > 0 {
				winners = append(winners, producerGRPC...)
				why += "; the consumer's callers get the producer's routes"
			}
			if len(winners) == 0 {
				continue
			}
			msg := fmt.Sprintf("%s bind%s Service %s/%s port %d too; %s", strings.Join(winners, ", "), verbS(winners), sp.ns, sp.name, sp.port, why)
			groups[k] = slices.DeleteFunc(groups[k], func(a attachment) bool {
				if a.route.kind != kindHTTPRoute {
					return false
				}
				a.route.note(&a.route.conflicts, k, msg)
				return true
			})
		}
		noteCoexisting(groups, sp, keys)
	}
}

// noteCoexisting writes into the status of both routes where a consumer
// GRPCRoute and an HTTPRoute of another namespace bind the same Service
// port and neither displaces the other.
func noteCoexisting(groups map[groupKey][]attachment, sp svcPortKey, keys []groupKey) {
	const boundary = "GEP-1294: \"another unrelated namespace cannot modify their traffic\""
	for _, gk := range keys {
		if gk.caller == "" {
			continue // producer GRPCRoutes displaced what they may.
		}
		var grpcs []*routeObj
		for _, a := range groups[gk] {
			if a.route.kind == kindGRPCRoute {
				grpcs = append(grpcs, a.route)
			}
		}
		if len(grpcs) == 0 {
			continue
		}
		// Attachments come in input order; notes must not.
		slices.SortFunc(grpcs, func(a, b *routeObj) int {
			return strings.Compare(a.ns+"/"+a.name, b.ns+"/"+b.name)
		})
		var https []string
		for _, hk := range keys {
			if hk == gk {
				continue
			}
			for _, a := range groups[hk] {
				if a.route.kind != kindHTTPRoute {
					continue
				}
				https = append(https, a.route.kind+" "+a.route.ns+"/"+a.route.name)
				for _, g := range grpcs {
					a.route.note(&a.route.coexist, hk, fmt.Sprintf(
						"GRPCRoute %s/%s, a consumer route of namespace %s, binds Service %s/%s port %d too and does not displace this HTTPRoute (%s)",
						g.ns, g.name, g.ns, sp.ns, sp.name, sp.port, boundary))
				}
			}
		}
		if len(https) == 0 {
			continue
		}
		slices.Sort(https)
		https = slices.Compact(https)
		for _, g := range grpcs {
			g.note(&g.coexist, gk, fmt.Sprintf(
				"%s bind%s Service %s/%s port %d too and stay%s applied to other namespaces: this GRPCRoute applies only to requests from namespace %s and does not displace routes of other namespaces (%s)",
				strings.Join(https, ", "), verbS(https), sp.ns, sp.name, sp.port, verbS(https), gk.caller, boundary))
		}
	}
}

// routeNames returns "Kind ns/name" of the routes of kind in atts, sorted.
func routeNames(atts []attachment, kind string) []string {
	var out []string
	for _, a := range atts {
		if a.route.kind == kind {
			out = append(out, kind+" "+a.route.ns+"/"+a.route.name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// verbS is the third-person "s" of a verb whose subject is names: "binds"
// for one, "bind" for more.
func verbS(names []string) string {
	if len(names) == 1 {
		return "s"
	}
	return ""
}

// note adds msg to the notes of listener k in *m, once.
func (r *routeObj) note(m *map[groupKey][]string, k groupKey, msg string) {
	if *m == nil {
		*m = map[groupKey][]string{}
	}
	if !slices.Contains((*m)[k], msg) {
		(*m)[k] = append((*m)[k], msg)
	}
}
