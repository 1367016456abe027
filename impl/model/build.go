package model

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/internal/controllername"
)

// Reasons the model uses that the Gateway API does not define as constants.
const (
	// ReasonNotAllowedByParent (Accepted=False): under [grantpolicy.Strict] a
	// consumer parentRef has no ReferenceGrant in the Service's namespace.
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

// svcKey is a Service port a route attaches to.
type svcPortKey struct {
	ns, name string
	port     int32
}

// groupKey is one listener: a Service port and a caller namespace ("" = any).
type groupKey struct {
	svcPortKey
	caller string
}

// attachment is one route rule table attached to a listener.
type attachment struct {
	route *routeObj
	// parent is the index of the parent status entry in route.parents.
	parent int
}

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
//   - Under [grantpolicy.Strict], a consumer parentRef without a ReferenceGrant:
//     Accepted=False reason NotAllowedByParent and ResolvedRefs=False reason
//     RefNotPermitted; the route is not applied.
//   - Invalid rules (unknown filter, bad regex, weight outside 0..1000000,
//     bad duration) are dropped; when some rules remain the route is
//     Accepted with PartiallyInvalid=True ("Dropped Rule..."), when none
//     remain Accepted=False with the first rule's reason.
//   - An ExtensionRef filter cannot be resolved: ResolvedRefs=False
//     InvalidKind and matching requests get 500 (the spec: "MUST NOT be
//     skipped").
//   - A GRPCRoute displaces HTTPRoutes on the same (Service, port, caller
//     group): Accepted=False reason Conflicted for the HTTPRoute (GEP-1294).
func Build(in Input) *Mesh {
	idx := newIndex(in)
	routes := collectRoutes(in, idx)

	// Attach accepted routes to their listeners.
	groups := make(map[groupKey][]attachment, len(routes))
	var attached map[groupKey]bool // listeners of the current route.
	for _, r := range routes {
		// One parent's ports are distinct (checkParent compacts them); only
		// two parentRefs of a route can select the same port.
		multi := len(r.parents) > 1
		if multi {
			clear(attached)
			if attached == nil {
				attached = map[groupKey]bool{}
			}
		}
		for pi := range r.parents {
			p := &r.parents[pi]
			if !p.accepted {
				continue
			}
			for _, port := range p.ports {
				k := groupKey{svcPortKey{p.svc.Namespace, p.svc.Name, port}, ""}
				if r.ns != p.svc.Namespace {
					k.caller = r.ns // GEP-1294: consumer routes only apply to their own namespace.
				}
				if multi {
					if attached[k] {
						continue // two parentRefs of the route select the same port.
					}
					attached[k] = true
				}
				groups[k] = append(groups[k], attachment{route: r, parent: pi})
			}
		}
	}

	// GEP-1294 "Route types": "If multiple routes with different types both
	// bind to the same Service and Port pair, only a single route type should
	// be applied." GRPCRoute wins over HTTPRoute.
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

	m := &Mesh{}
	clusters := make(map[string]*Cluster, len(groups))
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		// Not cmp.Or, which would compare every field every time.
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.port, b.port); c != 0 {
			return c
		}
		return strings.Compare(a.caller, b.caller)
	})
	// entries is reused across listeners: its routes are copied out.
	var entries []entry
	for _, k := range keys {
		atts := groups[k]
		if len(atts) == 0 {
			continue
		}
		svc := idx.service(ServiceRef{k.ns, k.name})
		sp := servicePort(svc, k.port)
		l := Listener{
			Name:            listenerName(k),
			Service:         ServiceRef{k.ns, k.name},
			Port:            k.port,
			PortName:        sp.Name,
			AppProtocol:     deref(sp.AppProtocol),
			VIPs:            vips(svc),
			CallerNamespace: k.caller,
			ParentCluster:   ClusterName(ServiceRef{k.ns, k.name}, k.port),
		}
		grpc := atts[0].route.kind == kindGRPCRoute
		addCluster(clusters, idx, l.ParentCluster, l.Service, k.port, grpc)
		entries = entries[:0]
		for _, a := range atts {
			entries = a.route.appendEntries(entries, l.Service, k.port, l.ParentCluster)
		}
		sortEntries(entries)
		if len(entries) > 0 {
			l.Routes = make([]Route, 0, len(entries))
		}
		for _, e := range entries {
			for _, b := range e.route.Backends {
				if b.Cluster != "" {
					addCluster(clusters, idx, b.Cluster, b.Service, b.Port, grpc)
				}
			}
			for _, mi := range e.route.Mirrors {
				addCluster(clusters, idx, mi.Cluster, mi.Service, mi.Port, grpc)
			}
			l.Routes = append(l.Routes, e.route)
		}
		if m.Listeners == nil {
			m.Listeners = make([]Listener, 0, len(keys))
		}
		m.Listeners = append(m.Listeners, l)
	}
	if len(clusters) > 0 {
		m.Clusters = make([]Cluster, 0, len(clusters))
	}
	for _, c := range clusters {
		m.Clusters = append(m.Clusters, *c)
	}
	slices.SortFunc(m.Clusters, func(a, b Cluster) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(m.Listeners, func(a, b Listener) int { return strings.Compare(a.Name, b.Name) })

	for _, r := range routes {
		if len(r.parents) == 0 {
			continue
		}
		if m.Routes == nil {
			m.Routes = make([]RouteStatus, 0, len(routes))
		}
		m.Routes = append(m.Routes, r.status())
	}
	slices.SortFunc(m.Routes, func(a, b RouteStatus) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return m
}

// ClusterName is the cluster name of a Service port: "svc~<ns>~<name>~<port>".
func ClusterName(s ServiceRef, port int32) string {
	return "svc~" + s.Namespace + "~" + s.Name + "~" + strconv.Itoa(int(port))
}

func listenerName(k groupKey) string {
	n := "mesh~" + k.ns + "~" + k.name + "~" + strconv.Itoa(int(k.port))
	if k.caller != "" {
		n += "~from~" + k.caller
	}
	return n
}

// addCluster adds the cluster name (the [ClusterName] of s and port) unless
// present; grpc makes it, new or present, speak h2c.
func addCluster(clusters map[string]*Cluster, idx *index, name string, s ServiceRef, port int32, grpc bool) {
	if c, ok := clusters[name]; ok {
		if grpc {
			c.Protocol = ProtocolH2C
		}
		return
	}
	svc := idx.service(s)
	sp := servicePort(svc, port)
	c := &Cluster{Name: name, Service: s, Port: port, PortName: sp.Name, Protocol: ProtocolHTTP1}
	switch deref(sp.AppProtocol) {
	case "kubernetes.io/h2c", "grpc":
		c.Protocol = ProtocolH2C
	}
	if grpc {
		c.Protocol = ProtocolH2C
	}
	c.Endpoints = idx.endpoints(s, sp)
	clusters[name] = c
}

func servicePort(svc *corev1.Service, port int32) corev1.ServicePort {
	if svc == nil {
		return corev1.ServicePort{Port: port}
	}
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Port == port && protocolOK(p.Protocol) {
			return *p
		}
	}
	return corev1.ServicePort{Port: port}
}

func protocolOK(p corev1.Protocol) bool { return p == "" || p == corev1.ProtocolTCP }

// hasVIP reports whether vips(svc) is not empty.
func hasVIP(svc *corev1.Service) bool {
	isVIP := func(ip string) bool { return ip != "" && ip != corev1.ClusterIPNone }
	return slices.ContainsFunc(svc.Spec.ClusterIPs, isVIP) || isVIP(svc.Spec.ClusterIP)
}

// vips returns the distinct ClusterIPs of svc, sorted; nil when headless.
func vips(svc *corev1.Service) []string {
	out := make([]string, 0, len(svc.Spec.ClusterIPs)+1)
	add := func(ip string) {
		if ip != "" && ip != corev1.ClusterIPNone && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	for _, ip := range svc.Spec.ClusterIPs {
		add(ip)
	}
	add(svc.Spec.ClusterIP)
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// newRoute validates a route of either kind from its rules; nil when it has
// no Service parentRef. A route without rules gets one rule matching every
// request and forwarding to the parent Service.
func newRoute[R any](kind string, meta *metav1.ObjectMeta, parentRefs []gwv1.ParentReference, rules []R, idx *index,
	rule func(*routeObj, int, R, *index) (ruleObj, *ruleError)) *routeObj {
	if !slices.ContainsFunc(parentRefs, isServiceParent) {
		return nil
	}
	r := &routeObj{kind: kind, ns: meta.Namespace, name: meta.Name, generation: meta.Generation, created: meta.CreationTimestamp,
		rules: make([]ruleObj, 0, max(1, len(rules)))}
	var errs map[int]ruleError // made on the first invalid rule.
	for i, rl := range rules {
		ru, err := rule(r, i, rl, idx)
		if err != nil {
			if errs == nil {
				errs = map[int]ruleError{}
			}
			errs[i] = *err
			continue
		}
		r.rules = append(r.rules, ru)
	}
	if len(rules) == 0 {
		r.rules = append(r.rules, ruleObj{matches: []matchObj{{m: Match{PathType: PathPrefix, PathValue: "/"}}}, toParent: true})
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
	// conflicted lists listeners where a GRPCRoute displaced this HTTPRoute.
	conflicted map[groupKey]bool
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

func (r *routeObj) status() RouteStatus {
	st := RouteStatus{Kind: r.kind, Namespace: r.ns, Name: r.name, Generation: r.generation}
	if len(r.parents) > 0 {
		st.Parents = make([]ParentStatus, 0, len(r.parents))
	}
	for _, p := range r.parents {
		var conflicted []int32
		for _, port := range p.ports {
			k := groupKey{svcPortKey{p.svc.Namespace, p.svc.Name, port}, ""}
			if r.ns != p.svc.Namespace {
				k.caller = r.ns
			}
			if r.conflicted[k] {
				conflicted = append(conflicted, port)
			}
		}
		accepted := metav1.Condition{
			Type:               string(gwv1.RouteConditionAccepted),
			Status:             metav1.ConditionTrue,
			Reason:             string(gwv1.RouteReasonAccepted),
			Message:            "accepted by " + controllername.Gammaproof,
			ObservedGeneration: r.generation,
		}
		resolved := metav1.Condition{
			Type:               string(gwv1.RouteConditionResolvedRefs),
			Status:             metav1.ConditionTrue,
			Reason:             string(gwv1.RouteReasonResolvedRefs),
			Message:            "all references resolved",
			ObservedGeneration: r.generation,
		}
		switch {
		case !p.accepted:
			accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, p.reason, p.msg
		case len(conflicted) == len(p.ports):
			accepted.Status, accepted.Reason = metav1.ConditionFalse, ReasonConflicted
			accepted.Message = "a GRPCRoute binds to the same Service port; GRPCRoute takes precedence over HTTPRoute (GEP-1294)"
		case len(conflicted) > 0:
			accepted.Message = "accepted; not applied on port(s) " + joinPorts(conflicted) + " where a GRPCRoute takes precedence (GEP-1294)"
		}
		switch {
		case p.refNotPermitted:
			resolved.Status, resolved.Reason = metav1.ConditionFalse, string(gwv1.RouteReasonRefNotPermitted)
			resolved.Message = p.msg
		case r.refReason != "":
			resolved.Status, resolved.Reason = metav1.ConditionFalse, r.refReason
			resolved.Message = strings.Join(r.refMsgs, "; ")
		}
		conds := make([]metav1.Condition, 2, 3)
		conds[0], conds[1] = accepted, resolved
		if accepted.Status == metav1.ConditionTrue && len(r.dropped) > 0 {
			conds = append(conds, metav1.Condition{
				Type:               string(gwv1.RouteConditionPartiallyInvalid),
				Status:             metav1.ConditionTrue,
				Reason:             string(gwv1.RouteReasonUnsupportedValue),
				Message:            "Dropped Rule(s): " + strings.Join(r.dropped, "; "),
				ObservedGeneration: r.generation,
			})
		}
		for i := range conds {
			conds[i].Message = truncate(conds[i].Message)
		}
		st.Parents = append(st.Parents, ParentStatus{ParentRef: p.ref, Conditions: conds})
	}
	return st
}

// truncate keeps a condition message within the API's 32768-byte limit.
func truncate(s string) string {
	const max = 32000
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func joinPorts(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
