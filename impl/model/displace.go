package model

import "slices"

// displaceHTTPRoutes applies GEP-1294 "Route types": "If multiple routes
// with different types both bind to the same Service and Port pair, only a
// single route type should be applied." GRPCRoute wins over HTTPRoute: on
// every listener with a GRPCRoute the HTTPRoutes are dropped and marked
// conflicted there, for their status.
func displaceHTTPRoutes(groups map[groupKey][]attachment) {
	for k, atts := range groups {
		hasGRPC := slices.ContainsFunc(atts, func(a attachment) bool { return a.route.kind == kindGRPCRoute })
		if !hasGRPC {
			continue
		}
		kept := atts[:0]
		for _, a := range atts {
			if a.route.kind == kindHTTPRoute {
				if a.route.conflicted == nil {
					a.route.conflicted = map[groupKey]bool{}
				}
				a.route.conflicted[k] = true
				continue
			}
			kept = append(kept, a)
		}
		groups[k] = kept
	}
}
