package model

// Reasons the model uses that the Gateway API does not define as constants.
const (
	// ReasonNotAllowedByParent (Accepted=False): under the strict grant
	// policy a consumer parentRef has no ReferenceGrant in the Service's
	// namespace.
	ReasonNotAllowedByParent = "NotAllowedByParent"
	// ReasonConflicted (Accepted=False): GEP-1294 "Route types": a GRPCRoute
	// and an HTTPRoute bind to the same Service and port; the GRPCRoute wins
	// where its namespace may change the HTTPRoute's traffic (displace.go).
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
// one get no status from us. A parentRef's sectionName is the Service's
// port name, its port the port number; when both are set they must name
// the same port. Choices where the spec leaves room, each written into the
// status of the route it applies to:
//   - A rule without backendRefs (and without a redirect) forwards to the
//     parent Service port itself: "rule N has no backendRefs: forwarding to
//     the parent Service" in the Accepted message.
//   - A rule whose every backendRef has weight 0 answers 500; so does a rule
//     whose every backendRef is invalid when it has filters (the spec
//     requires 500 only without filters); a RequestRedirect answers its
//     redirect whatever the backendRefs.
//   - RegularExpression paths rank after Exact and before PathPrefix matches,
//     longer expressions first (the spec calls this implementation-specific).
//   - route hostnames are ignored (GEP-1294: implementations "SHOULD NOT
//     infer any functionality from the hostnames field").
//   - headless and ExternalName parents, and a sectionName or port the
//     Service does not have: Accepted=False, NoMatchingParent, with a
//     message saying why (and which ports the Service has).
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
//   - A GRPCRoute displaces HTTPRoutes on the same Service port
//     (Accepted=False reason Conflicted, GEP-1294 "Route types") in its own
//     namespace and, when it is a producer route, in every consumer
//     namespace; a consumer GRPCRoute never displaces a route of another
//     namespace (GEP-1294 "Namespace boundaries"), and both routes' status
//     says so.
//   - Clusters are keyed by protocol (h1 or h2c, from the route kind and the
//     Service port's appProtocol), so no route changes how another route
//     reaches its backends.
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
