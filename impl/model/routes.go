package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// collectRoutes validates every route of in that has a Service parentRef.
func collectRoutes(in Input, idx *index) []*routeObj {
	var out []*routeObj
	for i := range in.HTTPRoutes {
		if r := httpRoute(&in.HTTPRoutes[i], idx); r != nil {
			out = append(out, r)
		}
	}
	for i := range in.GRPCRoutes {
		if r := grpcRoute(&in.GRPCRoutes[i], idx); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// newRoute validates a route of either kind from its rules; nil when it has
// no Service parentRef. A route without rules gets one rule matching every
// request and forwarding to the parent Service.
func newRoute[R, M, B any](kind string, meta *metav1.ObjectMeta, parentRefs []gwv1.ParentReference, rules []R, idx *index,
	k *ruleKind[R, M, B]) *routeObj {
	if !slices.ContainsFunc(parentRefs, isServiceParent) {
		return nil
	}
	r := &routeObj{kind: kind, ns: meta.Namespace, name: meta.Name, generation: meta.Generation, created: meta.CreationTimestamp,
		rules: make([]ruleObj, 0, max(1, len(rules)))}
	var errs map[int]ruleError // made on the first invalid rule.
	for i := range rules {
		// Each rule is built in place, in r.rules: the capacity is enough.
		r.rules = append(r.rules, ruleObj{})
		ru := &r.rules[len(r.rules)-1]
		if err := buildRule(r, ru, i, &rules[i], k, idx); err != nil {
			r.rules = r.rules[:len(r.rules)-1]
			if errs == nil {
				errs = map[int]ruleError{}
			}
			errs[i] = *err
		}
	}
	if len(rules) == 0 {
		r.rules = append(r.rules, ruleObj{matches: []matchObj{{m: Match{PathType: PathPrefix, PathValue: "/"}}}, toParent: true})
		r.notes = append(r.notes, "the route has no rules: "+toParentChoice)
	}
	r.finishRules(len(rules), errs)
	r.resolveParents(parentRefs, idx)
	return r
}

// routeObj is an HTTPRoute or GRPCRoute after validation.
type routeObj struct {
	kind, ns, name string
	generation     int64
	created        metav1.Time
	rules          []ruleObj
	parents        []parentObj
	// acceptProblems make every Service parent Accepted=False (all rules invalid).
	acceptReason, acceptMsg string
	// dropped lists rules dropped as invalid while others remain (PartiallyInvalid).
	dropped []string
	// refProblems are unresolved references (ResolvedRefs=False).
	refReason string
	refMsgs   []string
	// conflicts holds, per listener where a GRPCRoute displaced this
	// HTTPRoute, why (displace.go).
	conflicts map[groupKey][]string
	// coexist holds, per listener, routes of the other kind and another
	// namespace on the same Service port that neither displace this route
	// nor are displaced by it, and why (displace.go).
	coexist map[groupKey][]string
	// notes say what gammaproof chose for a rule where the spec is silent
	// (Accepted message).
	notes []string
}

func (r *routeObj) addRefProblem(reason, msg string) {
	if r.refReason == "" {
		r.refReason = reason
	}
	r.refMsgs = append(r.refMsgs, msg)
}

// parentObj is one distinct Service parentRef of a route.
type parentObj struct {
	ref      gwv1.ParentReference
	svc      ServiceRef
	ports    []int32 // the Service ports the route attaches to.
	accepted bool
	reason   string // Accepted=False reason.
	msg      string
	// refNotPermitted: the parentRef itself is not permitted (strict).
	refNotPermitted bool
}

// isServiceParent reports whether a parentRef is ours: group "" and kind Service.
func isServiceParent(p gwv1.ParentReference) bool {
	return p.Group != nil && *p.Group == "" && p.Kind != nil && *p.Kind == kindService
}

// resolveParents resolves a route's Service parentRefs (GEP-1294).
func (r *routeObj) resolveParents(refs []gwv1.ParentReference, idx *index) {
	var seen []string // routes have few parentRefs (the API allows 32).
	dedup := len(refs) > 1
	for _, ref := range refs {
		if !isServiceParent(ref) {
			continue // Gateway (or other) parents belong to other controllers.
		}
		ns := r.ns
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		if dedup {
			key := ns + "/" + string(ref.Name) + "/" + string(deref(ref.SectionName)) + "/" + strconv.Itoa(int(deref(ref.Port)))
			if slices.Contains(seen, key) {
				continue
			}
			seen = append(seen, key)
		}
		p := parentObj{ref: ref, svc: ServiceRef{ns, string(ref.Name)}}
		p.reason, p.msg = r.checkParent(&p, ref, idx)
		p.accepted = p.reason == ""
		r.parents = append(r.parents, p)
	}
}

// checkParent fills p.ports and returns an Accepted=False reason and message,
// or "" when the parent accepts the route.
func (r *routeObj) checkParent(p *parentObj, ref gwv1.ParentReference, idx *index) (string, string) {
	if !idx.granted(r.kind, r.ns, p.svc.Namespace, p.svc.Name) {
		// Strict policy: a consumer route needs a ReferenceGrant in the
		// Service's namespace, like a cross-namespace backendRef.
		p.refNotPermitted = true
		return ReasonNotAllowedByParent, fmt.Sprintf("%s %s/%s may not attach to Service %s: grant policy strict needs a ReferenceGrant in namespace %s from %s in %s to Service %s",
			r.kind, r.ns, r.name, p.svc, p.svc.Namespace, r.kind, r.ns, p.svc.Name)
	}
	svc := idx.service(p.svc)
	if svc == nil {
		return string(gwv1.RouteReasonNoMatchingParent), "Service " + p.svc.String() + " not found"
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		// GEP-1294: "Service resources with type: ExternalName SHOULD NOT be allowed as parentRefs".
		return string(gwv1.RouteReasonNoMatchingParent), "Service " + p.svc.String() + " is of type ExternalName, which cannot be a mesh parent (GEP-1294)"
	case !hasVIP(svc):
		// GEP-1294: "Headless Services SHOULD NOT be supported as a parentRef".
		return string(gwv1.RouteReasonNoMatchingParent), "Service " + p.svc.String() + " is headless, which cannot be a mesh parent (GEP-1294)"
	}
	if reason, msg := p.selectPorts(svc, ref); reason != "" {
		return reason, msg
	}
	if r.acceptReason != "" {
		return r.acceptReason, r.acceptMsg
	}
	return "", ""
}

// selectPorts fills p.ports with the TCP ports of svc that ref selects:
// sectionName is the Service's port name ("Service: Port name"), port its
// number; "When both Port (experimental) and SectionName are specified, the
// name and port of the selected port must match both specified values."
// Neither selects every port (GEP-1294). It returns a NoMatchingParent
// reason and message when nothing is selected.
func (p *parentObj) selectPorts(svc *corev1.Service, ref gwv1.ParentReference) (string, string) {
	for _, sp := range svc.Spec.Ports {
		if !protocolOK(sp.Protocol) {
			continue
		}
		if ref.SectionName != nil && sp.Name != string(*ref.SectionName) {
			continue
		}
		if ref.Port != nil && *ref.Port != sp.Port {
			continue
		}
		p.ports = append(p.ports, sp.Port)
	}
	slices.Sort(p.ports)
	p.ports = slices.Compact(p.ports)
	if len(p.ports) > 0 {
		return "", ""
	}
	reason := string(gwv1.RouteReasonNoMatchingParent)
	have := "; its TCP ports: " + describePorts(svc)
	switch {
	case ref.SectionName != nil && ref.Port != nil:
		if named, ok := portNamed(svc, string(*ref.SectionName)); ok {
			return reason, fmt.Sprintf("sectionName %q is port %d of Service %s, but port is %d: when both are set they must name the same port%s",
				*ref.SectionName, named, p.svc, *ref.Port, have)
		}
		return reason, fmt.Sprintf("Service %s has no port named %q%s", p.svc, *ref.SectionName, have)
	case ref.SectionName != nil:
		return reason, fmt.Sprintf("Service %s has no port named %q%s", p.svc, *ref.SectionName, have)
	case ref.Port != nil:
		return reason, fmt.Sprintf("Service %s has no TCP port %d%s", p.svc, *ref.Port, have)
	}
	return reason, "Service " + p.svc.String() + " has no TCP ports"
}

// finishRules sets the route-wide acceptance from the per-rule errors.
func (r *routeObj) finishRules(total int, errs map[int]ruleError) {
	if len(errs) == 0 {
		return
	}
	var msgs []string
	first := ""
	for i := range total {
		e, ok := errs[i]
		if !ok {
			continue
		}
		if first == "" {
			first = e.reason
		}
		msgs = append(msgs, fmt.Sprintf("rule %d: %s", i, e.msg))
	}
	if len(errs) == total {
		// "If all Route Rules in a Route are invalid, the entire Route would
		// be considered invalid."
		r.acceptReason, r.acceptMsg = first, strings.Join(msgs, "; ")
		return
	}
	r.dropped = msgs
}

// deref returns *p, or the zero value when p is nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
