package model

// Reasons the model uses that the Gateway API does not define as constants.
const (
	// ReasonNotAllowedByParent (Accepted=False): under the strict grant
	// policy a consumer parentRef has no ReferenceGrant in the Service's
	// namespace.
	ReasonNotAllowedByParent = "NotAllowedByParent"
	// ReasonConflicted (Accepted=False): GEP-1294 "Route types": a GRPCRoute
	// and an HTTPRoute bind to the same Service and port; the GRPCRoute wins.
	ReasonConflicted = "Conflicted"
)

const (
	kindHTTPRoute = "HTTPRoute"
	kindGRPCRoute = "GRPCRoute"
	kindService   = "Service"
)

// Build computes the mesh from in. It is pure and deterministic: the same
// Input (in any order) gives a deep-equal Mesh. It never panics on bad input;
// problems end up in route status and, per the spec, in 500 responses.
//
// Only parentRefs with group "" and kind Service are handled; routes without
// one get no status from us. Choices where the spec leaves room:
//   - A rule without backendRefs (and without a redirect) forwards to the
//     parent Service port itself (implementation-specific).
//   - RegularExpression paths rank after Exact and before PathPrefix matches,
//     longer expressions first (the spec calls this implementation-specific).
//   - route hostnames are ignored (GEP-1294: implementations "SHOULD NOT
//     infer any functionality from the hostnames field").
//   - sectionName on a Service parent, headless and ExternalName parents:
//     Accepted=False, NoMatchingParent, with a message saying why.
//   - Under the strict grant policy, a consumer parentRef without a
//     ReferenceGrant: Accepted=False reason NotAllowedByParent and
//     ResolvedRefs=False reason RefNotPermitted; the route is not applied.
//   - Invalid rules (unknown filter, bad regex, weight outside 0..1000000,
//     bad duration) are dropped; when some rules remain the route is
//     Accepted with PartiallyInvalid=True ("Dropped Rule..."), when none
//     remain Accepted=False with the first rule's reason.
//   - An ExtensionRef filter cannot be resolved: ResolvedRefs=False
//     InvalidKind and matching requests get 500 (the spec: "MUST NOT be
//     skipped").
//   - A GRPCRoute displaces HTTPRoutes on the same (Service, port, caller
//     group): Accepted=False reason Conflicted for the HTTPRoute (GEP-1294).
//
// The stages, one file each: validate the routes (routes.go, rules.go,
// http.go, grpc.go), attach them to listeners (attach.go), let GRPCRoutes
// displace HTTPRoutes (displace.go), assemble listeners and clusters
// (assemble.go) and write route status (status.go).
func Build(in Input) *Mesh {
	idx := newIndex(in)
	routes := collectRoutes(in, idx)
	listeners := attach(routes)
	displaceHTTPRoutes(listeners)
	m := assemble(listeners, idx)
	m.Routes = statuses(routes)
	return m
}
