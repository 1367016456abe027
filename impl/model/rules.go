package model

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// maxWeight is the API's maximum backendRef weight.
const maxWeight = 1_000_000

// ruleObj is a validated rule of a route.
type ruleObj struct {
	index    int
	name     string
	matches  []matchObj
	redirect *Redirect
	// backends are the resolved backendRefs with weight > 0.
	backends []Backend
	// toParent: the rule has no backendRefs and no redirect, so it forwards
	// to the parent Service port itself (implementation-specific).
	toParent bool
	// direct500: every request matching the rule is answered 500 (all
	// backends invalid or weight 0, or an unresolved ExtensionRef filter).
	direct500 bool
	// allZero: the rule has backendRefs and every weight is 0; allInvalid:
	// some weight is not 0 and every such backend is invalid.
	allZero, allInvalid bool
	reqH, respH         HeaderModifier
	rewrite             *URLRewrite
	mirrors             []Mirror
	timeouts            Timeouts
	retry               *Retry
}

// matchObj is a Match plus what precedence needs.
type matchObj struct {
	m Match
	// gRPC precedence: characters in the matching service and method.
	grpcService, grpcMethod int
}

// ruleError makes a rule invalid: Accepted=False when every rule is.
type ruleError struct {
	reason string
	msg    string
}

// ruleParts are the parts every HTTPRoute and GRPCRoute rule has: M is the
// kind's match type, B its backendRef type.
type ruleParts[M, B any] struct {
	name *gwv1.SectionName
	// matches of the rule; none means one zero M, which matches every
	// request.
	matches     []M
	filters     []filterRef
	backendRefs []B
}

// ruleKind is what [buildRule], the validation both kinds share, needs to
// know of one kind of route: its rule type R, match type M and backendRef
// type B, and the steps only this kind has.
type ruleKind[R, M, B any] struct {
	// parts returns a rule's [ruleParts].
	parts func(rule *R) ruleParts[M, B]
	// match lowers one match to HTTP.
	match func(M) (matchObj, *ruleError)
	// backend returns a backendRef's reference and filters.
	backend func(B) (gwv1.BackendRef, []filterRef)
	// backendFilterNote ends the message for an unsupported backendRef
	// filter type.
	backendFilterNote string
	// ownFilter applies to ru the filter types only this kind has and
	// reports whether f was one; nil when there are none.
	ownFilter func(ru *ruleObj, f filterRef) (bool, *ruleError)
	// finish checks and sets ru's fields of this kind's own from rule, once
	// the filters are applied; nil when there are none.
	finish func(ru *ruleObj, rule *R) *ruleError
}

// buildRule validates rule i of a route of kind k into ru: its matches,
// its filters, the kind's own fields, its backendRefs, in that order; the
// first problem makes the rule invalid.
func buildRule[R, M, B any](r *routeObj, ru *ruleObj, i int, rule *R, k *ruleKind[R, M, B], idx *index) *ruleError {
	spec := k.parts(rule)
	*ru = ruleObj{index: i, name: string(deref(spec.name))}
	if n := len(spec.backendRefs); n > 0 {
		ru.backends = make([]Backend, 0, n)
	}
	matches := spec.matches
	if len(matches) == 0 {
		matches = make([]M, 1)
	}
	ru.matches = make([]matchObj, 0, len(matches))
	for _, m := range matches {
		mo, err := k.match(m)
		if err != nil {
			return err
		}
		ru.matches = append(ru.matches, mo)
	}
	if err := r.ruleFilters(ru, spec.filters, idx, k.ownFilter); err != nil {
		return err
	}
	if k.finish != nil {
		if err := k.finish(ru, rule); err != nil {
			return err
		}
	}
	for _, br := range spec.backendRefs {
		ref, fs := k.backend(br)
		b, err := r.backendRef(ref, fs, idx, k.backendFilterNote)
		if err != nil {
			return err
		}
		ru.backends = append(ru.backends, b)
	}
	if err := ru.finishBackends(len(spec.backendRefs) > 0); err != nil {
		return err
	}
	r.noteBackends(ru, len(spec.backendRefs) > 0, len(spec.filters) > 0)
	return nil
}

// failAnswer is what a request that cannot be forwarded gets: 500 from an
// HTTPRoute; from a GRPCRoute "an `UNAVAILABLE` status", HTTP 503 in gRPC's
// mapping of HTTP statuses (impl/xds answers it).
func (r *routeObj) failAnswer() string {
	if r.kind == kindGRPCRoute {
		return "UNAVAILABLE (HTTP 503)"
	}
	return "500"
}

// toParentChoice ends the status note for a rule without backendRefs.
const toParentChoice = "forwarding to the parent Service (gammaproof's choice; the spec is silent for mesh)"

// noteBackends writes into the route's status what a valid rule does when
// its backendRefs do not say where requests go: no backendRefs, every
// weight 0, or no valid backendRef.
func (r *routeObj) noteBackends(ru *ruleObj, hadRefs, hasFilters bool) {
	switch {
	case ru.toParent:
		r.notes = append(r.notes, fmt.Sprintf("rule %d has no backendRefs: %s", ru.index, toParentChoice))
	case !hadRefs:
		// A redirect without backendRefs answers every request itself.
	case ru.allZero:
		// "If weight is set to 0, no traffic should be forwarded for this
		// entry." Nothing may be forwarded; what to answer instead the spec
		// does not say for mesh.
		if ru.redirect != nil {
			return
		}
		r.notes = append(r.notes, fmt.Sprintf("rule %d: every backendRef has weight 0: matching requests get %s (gammaproof's choice; the spec is silent for mesh)", ru.index, r.failAnswer()))
	case ru.allInvalid:
		// The reference problems themselves are in ResolvedRefs already.
		switch {
		case ru.redirect != nil:
			r.refMsgs = append(r.refMsgs, fmt.Sprintf("rule %d: no valid backendRef: its RequestRedirect filter answers matching requests, the backendRefs are not used", ru.index))
		case hasFilters:
			// "If *all* entries in BackendRefs are invalid, and there are
			// also no filters specified in this route rule, *all* traffic
			// which matches this rule MUST receive a 500 status code." With
			// filters the spec is silent; nothing can be forwarded.
			r.refMsgs = append(r.refMsgs, fmt.Sprintf("rule %d: no valid backendRef: matching requests get %s although the rule has filters (gammaproof's choice; the spec is silent when a rule has filters)", ru.index, r.failAnswer()))
		default:
			r.refMsgs = append(r.refMsgs, fmt.Sprintf("rule %d: no valid backendRef: matching requests get %s", ru.index, r.failAnswer()))
		}
	}
}

// resolveBackend checks one backend reference. It records reference
// problems on the route and returns the Backend (Invalid set when unusable).
func (r *routeObj) resolveBackend(ref gwv1.BackendObjectReference, idx *index) Backend {
	ns := r.ns
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	b := Backend{Service: ServiceRef{ns, string(ref.Name)}, Port: deref(ref.Port)}
	group, kind := deref(ref.Group), kindService
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	fail := func(reason gwv1.RouteConditionReason, msg string) Backend {
		b.Invalid = string(reason)
		r.addRefProblem(string(reason), msg)
		return b
	}
	if group != "" || kind != kindService {
		return fail(gwv1.RouteReasonInvalidKind, fmt.Sprintf("backendRef %s/%s: group %q kind %q is not supported; only core Services are", ns, ref.Name, group, kind))
	}
	// Check the grant before existence, so that a missing grant does not
	// reveal whether a Service exists in another namespace.
	if !idx.granted(r.kind, r.ns, ns, string(ref.Name)) {
		return fail(gwv1.RouteReasonRefNotPermitted, fmt.Sprintf("backendRef to Service %s/%s is not permitted: grant policy strict needs a ReferenceGrant in namespace %s from %s in %s", ns, ref.Name, ns, r.kind, r.ns))
	}
	svc := idx.service(b.Service)
	if svc == nil {
		return fail(gwv1.RouteReasonBackendNotFound, "backendRef Service "+b.Service.String()+" not found")
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		// GEP-1294: ExternalName Services "SHOULD NOT be allowed as parentRefs or backendRefs".
		return fail(gwv1.RouteReasonInvalidKind, "backendRef Service "+b.Service.String()+" is of type ExternalName, which is not supported as a mesh backend")
	}
	if ref.Port == nil {
		return fail(gwv1.RouteReasonBackendNotFound, "backendRef Service "+b.Service.String()+" has no port; port is required for Service backends")
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == *ref.Port && protocolOK(sp.Protocol) }) {
		return fail(gwv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef Service %s has no TCP port %d", b.Service, *ref.Port))
	}
	// The cluster is keyed by the protocol this route's kind speaks, so a
	// GRPCRoute reaching the backend never changes how an HTTPRoute of
	// another namespace reaches it (GEP-1294 namespace boundaries).
	b.Cluster = ClusterName(b.Service, *ref.Port, upstreamProtocol(r.kind, servicePort(svc, *ref.Port)))
	return b
}

// weight validates a backendRef weight (default 1).
func weight(w *int32) (uint32, *ruleError) {
	if w == nil {
		return 1, nil
	}
	if *w < 0 || *w > maxWeight {
		return 0, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("weight %d is outside 0..%d", *w, maxWeight)}
	}
	return uint32(*w), nil
}

// finishBackends drops weight-0 backends, merges duplicates and decides
// whether the rule answers 500 for everything.
func (ru *ruleObj) finishBackends(hadRefs bool) *ruleError {
	if !hadRefs {
		ru.toParent = ru.redirect == nil
		return nil
	}
	// Merged in place: merged never gets ahead of the backend being read.
	merged := ru.backends[:0]
	for _, b := range ru.backends {
		if b.Weight == 0 {
			continue // "If weight is set to 0, no traffic should be forwarded for this entry."
		}
		i := slices.IndexFunc(merged, func(m Backend) bool { return sameBackend(m, b) })
		if i < 0 {
			merged = append(merged, b)
			continue
		}
		merged[i].Weight += b.Weight
	}
	if len(merged) == 0 {
		merged = nil
		ru.allZero = true
	}
	var total uint64
	valid := false
	for _, b := range merged {
		total += uint64(b.Weight)
		valid = valid || b.Invalid == ""
	}
	if total > math.MaxUint32 {
		return &ruleError{string(gwv1.RouteReasonUnsupportedValue), "the sum of backend weights exceeds 4294967295"}
	}
	ru.backends = merged
	ru.allInvalid = !valid && !ru.allZero
	if ru.redirect != nil {
		ru.backends = nil
		return nil
	}
	// "If *all* entries in BackendRefs are invalid, and there are also no
	// filters specified in this route rule, *all* traffic which matches this
	// rule MUST receive a 500 status code." With filters, and with every
	// weight 0, gammaproof answers 500 too (noteBackends says so).
	if !valid {
		ru.direct500 = true
	}
	return nil
}

func sameBackend(a, b Backend) bool {
	return a.Cluster == b.Cluster && a.Service == b.Service && a.Port == b.Port && a.Invalid == b.Invalid &&
		equalModifier(a.RequestHeaders, b.RequestHeaders) && equalModifier(a.ResponseHeaders, b.ResponseHeaders)
}

func equalModifier(a, b HeaderModifier) bool {
	return slices.Equal(a.Set, b.Set) && slices.Equal(a.Add, b.Add) && slices.Equal(a.Remove, b.Remove)
}

func headerModifier(f *gwv1.HTTPHeaderFilter) HeaderModifier {
	var m HeaderModifier
	if f == nil {
		return m
	}
	for _, h := range f.Set {
		m.Set = append(m.Set, Header{string(h.Name), h.Value})
	}
	for _, h := range f.Add {
		m.Add = append(m.Add, Header{string(h.Name), h.Value})
	}
	for _, n := range f.Remove {
		m.Remove = append(m.Remove, strings.ToLower(n))
	}
	return m
}

// parseDuration parses a Gateway API duration (GEP-2257).
func parseDuration(field string, d *gwv1.Duration) (time.Duration, *ruleError) {
	if d == nil {
		return 0, nil
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		return 0, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("%s %q is not a valid duration", field, *d)}
	}
	return v, nil
}

func checkRegex(what, re string) *ruleError {
	if _, err := regexp.Compile(re); err != nil {
		return &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("%s regular expression %q: %v", what, re, err)}
	}
	return nil
}

// typedMatches converts the header or query param matches ms, each with
// the name, value and type that parts returns, to StringMatches. Their type
// is one of HTTPRoute's header and query param match types or GRPCRoute's
// header match type, which have the same values: "" or Exact compares the
// value, RegularExpression matches it. kind names the matches in errors.
func typedMatches[E any, T ~string](kind string, ms []E, parts func(*E) (name, value string, typ *T)) ([]StringMatch, *ruleError) {
	out := make([]StringMatch, 0, len(ms))
	for i := range ms {
		name, value, typ := parts(&ms[i])
		s := StringMatch{Name: name, Value: value}
		switch t := deref(typ); string(t) {
		case "", string(gwv1.HeaderMatchExact):
		case string(gwv1.HeaderMatchRegularExpression):
			s.Regex = true
		default:
			return nil, &ruleError{string(gwv1.RouteReasonUnsupportedValue), fmt.Sprintf("%s match type %q is not supported", kind, t)}
		}
		out = append(out, s)
	}
	return out, nil
}

// stringMatches dedups by name (first wins, as the spec requires) and sorts.
func stringMatches(kind string, in []StringMatch, fold bool) ([]StringMatch, *ruleError) {
	var out []StringMatch
	for _, s := range in {
		if fold {
			s.Name = strings.ToLower(s.Name)
		}
		// "If multiple entries specify equivalent ... names, only the first
		// entry with an equivalent name MUST be considered for a match."
		if slices.ContainsFunc(out, func(o StringMatch) bool { return o.Name == s.Name }) {
			continue
		}
		if s.Regex {
			if e := checkRegex(kind+" "+s.Name, s.Value); e != nil {
				return nil, e
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b StringMatch) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// normalizePrefix drops a trailing "/" (the spec ignores it) except for "/".
func normalizePrefix(v string) string {
	for len(v) > 1 && strings.HasSuffix(v, "/") {
		v = strings.TrimSuffix(v, "/")
	}
	return v
}
