package model

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// Input is everything [Build] looks at. Order of the slices does not matter:
// Build sorts what it needs. Build never modifies Input.
type Input struct {
	Services        []corev1.Service
	EndpointSlices  []discoveryv1.EndpointSlice
	HTTPRoutes      []gwv1.HTTPRoute
	GRPCRoutes      []gwv1.GRPCRoute
	ReferenceGrants []gwv1beta1.ReferenceGrant
	// Namespaces is optional: a route in a namespace listed here with a
	// DeletionTimestamp still applies (level-based); the field exists so the
	// model can grow namespace-based rules without an API change.
	Namespaces  []corev1.Namespace
	GrantPolicy grantpolicy.Policy // Optional. "" means grantpolicy.Spec.
}

// Mesh is the result of [Build]. Every slice is sorted as documented, so two
// Builds of the same Input are deep-equal.
type Mesh struct {
	// Listeners, one per steered (Service, port, caller namespace), sorted by
	// Name. A Service port is steered when at least one accepted route
	// applies to it.
	Listeners []Listener
	// Clusters, one per (Service, port, protocol) referenced by a
	// listener's routes (backends, mirrors, the parent itself), sorted by
	// Name.
	Clusters []Cluster
	// Routes holds the status of every route that has at least one Service
	// parentRef, sorted by Kind, Namespace, Name.
	Routes []RouteStatus
}

// ServiceRef names a Service.
type ServiceRef struct {
	Namespace string
	Name      string
}

// String returns "namespace/name".
func (s ServiceRef) String() string { return s.Namespace + "/" + s.Name }

// Protocol is how the proxy talks to a cluster's endpoints.
type Protocol string

const (
	// ProtocolHTTP1 is HTTP/1.1.
	ProtocolHTTP1 Protocol = "h1"
	// ProtocolH2C is cleartext HTTP/2 (gRPC).
	ProtocolH2C Protocol = "h2c"
)

// Listener is the route table that callers in CallerNamespace (or any caller
// when "") get for one Service port.
type Listener struct {
	// Name is "mesh~<ns>~<svc>~<port>", plus "~from~<callerNS>" for a
	// consumer-namespace listener.
	Name            string
	Service         ServiceRef
	Port            int32    // the Service port.
	PortName        string   // Optional.
	AppProtocol     string   // Optional. The Service port's appProtocol.
	VIPs            []string // ClusterIPs of the Service, sorted; may be empty (headless).
	CallerNamespace string   // "" = every caller without its own consumer listener.
	// ParentCluster is the cluster of the Service port itself; rules without
	// backendRefs forward there.
	ParentCluster string
	// Routes in match precedence order: the first route whose Match matches
	// a request wins.
	Routes []Route
}

// RouteRef names the route rule a [Route] came from.
type RouteRef struct {
	Kind      string // "HTTPRoute" or "GRPCRoute".
	Namespace string
	Name      string
	Rule      int    // index into spec.rules.
	RuleName  string // Optional. spec.rules[].name.
	Match     int    // index into the rule's matches (0 when the rule has none).
}

// String returns "Kind/ns/name/rule<i>/match<j>".
func (r RouteRef) String() string {
	// string(bytes) inside a concatenation is not copied: one allocation.
	var rule, match [20]byte
	return r.Kind + "/" + r.Namespace + "/" + r.Name + "/rule" + string(strconv.AppendInt(rule[:0], int64(r.Rule), 10)) +
		"/match" + string(strconv.AppendInt(match[:0], int64(r.Match), 10))
}

// Route is one (rule, match) of an accepted route, ready for the data plane.
type Route struct {
	// Name is unique within the listener: [RouteRef.String].
	Name   string
	Source RouteRef
	GRPC   bool // the route came from a GRPCRoute (matches were lowered to HTTP).
	Match  Match

	// Exactly one of Redirect, Backends (possibly empty) applies: when
	// Redirect is set, the proxy answers the redirect and Backends is empty.
	Redirect *Redirect
	// Backends with weight > 0 (weight-0 backends are dropped: "never
	// chosen"). Invalid backends stay, with their weight, so their share of
	// requests is answered 500. Empty with no Redirect: every request is
	// answered 500 (DirectResponse500 is true).
	Backends []Backend
	// DirectResponse500 is true when every backend is invalid (the spec: a
	// 500 when the rule has no filters, UNAVAILABLE for a GRPCRoute, which
	// impl/xds answers as HTTP 503; gammaproof's choice with filters),
	// when every weight is 0 (gammaproof's choice: the spec says only that
	// a weight-0 entry gets no traffic), or when an ExtensionRef filter
	// cannot be resolved.
	DirectResponse500 bool

	RequestHeaders  HeaderModifier // route-level RequestHeaderModifier.
	ResponseHeaders HeaderModifier // route-level ResponseHeaderModifier.
	Rewrite         *URLRewrite    // Optional.
	Mirrors         []Mirror       // Optional. Only valid mirror backends.
	Timeouts        Timeouts
	Retry           *Retry // Optional.
}

// PathMatchType is how a path is matched.
type PathMatchType string

const (
	// PathExact matches the whole path, case-sensitively.
	PathExact PathMatchType = "Exact"
	// PathPrefix matches by path elements as in Gateway API: "/foo" matches
	// "/foo", "/foo/" and "/foo/bar" but not "/foobar". A trailing "/" in
	// Value is ignored. "/" matches everything.
	PathPrefix PathMatchType = "PathPrefix"
	// PathRegex matches the whole path against an RE2 expression.
	PathRegex PathMatchType = "RegularExpression"
)

// Match is what a request must look like for a [Route]. Zero values mean
// "any". All given conditions must hold (AND).
type Match struct {
	PathType    PathMatchType // PathPrefix with Value "/" when the spec had none.
	PathValue   string
	Headers     []StringMatch // sorted by Name; names lower-cased.
	QueryParams []StringMatch // sorted by Name; names as given (case-sensitive).
	Method      string        // "" = any.
}

// StringMatch matches a header or query parameter.
type StringMatch struct {
	Name  string
	Value string
	Regex bool // Value is an RE2 expression matching the whole value.
}

// HeaderModifier sets, adds and removes headers. Names in Remove are
// lower-cased; Set and Add keep the given name.
type HeaderModifier struct {
	Set    []Header
	Add    []Header
	Remove []string
}

// Empty reports whether m changes nothing.
func (m HeaderModifier) Empty() bool { return len(m.Set) == 0 && len(m.Add) == 0 && len(m.Remove) == 0 }

// Header is a header name and value.
type Header struct {
	Name  string
	Value string
}

// PathModifierType is how a redirect or rewrite changes the path.
type PathModifierType string

const (
	// ReplaceFullPath replaces the whole path with Value.
	ReplaceFullPath PathModifierType = "ReplaceFullPath"
	// ReplacePrefixMatch replaces the matched prefix (Match.PathValue, a
	// PathPrefix) with Value.
	ReplacePrefixMatch PathModifierType = "ReplacePrefixMatch"
)

// PathModifier changes the request path.
type PathModifier struct {
	Type  PathModifierType
	Value string
}

// Redirect is a RequestRedirect filter. Nil pointers keep the request's value.
type Redirect struct {
	Scheme     *string
	Hostname   *string
	Port       *int32
	Path       *PathModifier
	StatusCode int // 301 or 302 (default 302).
}

// URLRewrite is a URLRewrite filter. Nil pointers keep the request's value.
type URLRewrite struct {
	Hostname *string
	Path     *PathModifier
}

// Backend is one weighted backendRef of a route rule.
type Backend struct {
	// Cluster is the [Cluster.Name] for a valid backend, "" when invalid.
	Cluster string
	Service ServiceRef
	Port    int32
	Weight  uint32
	// Invalid is the reason (RefNotPermitted, BackendNotFound, InvalidKind,
	// UnsupportedValue) when the backend cannot be used; "" when valid.
	// Requests given to an invalid backend are answered 500 (UNAVAILABLE,
	// HTTP 503, for a GRPCRoute).
	Invalid string
	// Backend-level filters.
	RequestHeaders  HeaderModifier
	ResponseHeaders HeaderModifier
}

// Mirror is a RequestMirror filter with a valid backend.
type Mirror struct {
	Cluster string
	Service ServiceRef
	Port    int32
	// Numerator/Denominator is the share of requests mirrored (1/1 = all).
	Numerator   int32
	Denominator int32
}

// Timeouts of a rule. Zero means no timeout.
type Timeouts struct {
	Request        time.Duration
	BackendRequest time.Duration
}

// Retry is an HTTPRoute rule's retry field.
type Retry struct {
	Attempts int           // retries after the first try.
	Codes    []int         // HTTP status codes to retry on, sorted.
	Backoff  time.Duration // Optional. 0 = implementation default.
}

// Cluster is a (Service, port) the proxy forwards to with one protocol.
type Cluster struct {
	// Name is "svc~<ns>~<name>~<port>~<protocol>" ([ClusterName]).
	Name      string
	Service   ServiceRef
	Port      int32
	PortName  string
	Protocol  Protocol
	Endpoints []Endpoint // ready endpoints, sorted by Address then Port.
}

// Endpoint is a ready pod address.
type Endpoint struct {
	Address string // IP address.
	Port    int32  // the target port on the pod.
}

// RouteStatus is what the controller writes into one route's
// status.parents for its Service parents.
type RouteStatus struct {
	Kind       string // "HTTPRoute" or "GRPCRoute".
	Namespace  string
	Name       string
	Generation int64
	// Parents, one per Service parentRef in spec order (duplicates of the
	// same parentRef appear once).
	Parents []ParentStatus
}

// ParentStatus is one status.parents entry.
type ParentStatus struct {
	// ParentRef as it should appear in status (namespace filled in as given).
	ParentRef gwv1.ParentReference
	// Conditions Accepted and ResolvedRefs, in that order, with
	// ObservedGeneration set and LastTransitionTime zero (the writer fills
	// it, keeping the old time when the status did not change).
	Conditions []metav1.Condition
}
