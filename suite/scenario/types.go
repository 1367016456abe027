package scenario

import "time"

// Scenario is one folder under scenarios/: what to apply and what to check.
type Scenario struct {
	// Name is the folder name; expect.yaml may repeat it.
	Name string `json:"name"`
	// Description says in a sentence what behaviour is checked.
	Description string `json:"description"`
	// Profile is one of suite/profile's: MESH-HTTP, MESH-GRPC or gammaproof
	// (our own behaviours).
	Profile string `json:"profile"`
	// Upstream is the short name of upstream's mesh conformance test this
	// scenario checks the same behaviour as, e.g. MeshHTTPRouteWeight.
	// Optional. The scenario then needs at least the test's features and
	// is core exactly when upstream counts the test as core in Profile.
	Upstream string `json:"upstream,omitempty"`
	// Core is true for the profile's core tests, false for extended (and
	// for upstream tests no profile counts).
	Core bool `json:"core,omitempty"`
	// Features the implementation must support: upstream's names
	// (sigs.k8s.io/gateway-api/pkg/features, e.g. Mesh, HTTPRoute,
	// MeshConsumerRoute), or ours for behaviours upstream has no name for,
	// starting with [OwnFeaturePrefix].
	Features []string `json:"features,omitempty"`
	// GrantPolicy restricts the scenario to one grant policy (spec or
	// strict, see internal/grantpolicy); empty runs under both.
	GrantPolicy string `json:"grantPolicy,omitempty"`
	// Steps run in order.
	Steps []Step `json:"steps"`

	// Dir is the folder the scenario was loaded from.
	Dir string `json:"-"`
	// files is where the scenario's manifests are read from; zero for a
	// Scenario not made by the loader, which reads them from Dir on disk.
	files source
}

// Step applies or deletes manifests, waits, then runs checks.
type Step struct {
	Name string `json:"name"`
	// Apply lists manifest files of the folder to apply (server-side).
	Apply []string `json:"apply,omitempty"`
	// Delete lists manifest files whose objects are deleted.
	Delete []string `json:"delete,omitempty"`
	// WaitFor lists what must hold before the checks start.
	WaitFor []Wait `json:"waitFor,omitempty"`
	// Checks are the traffic expectations.
	Checks []Check `json:"checks,omitempty"`
	// Exec runs a command in a pod and checks its output (the seed's curl loop).
	Exec []Exec `json:"exec,omitempty"`
}

// Wait is a condition that must hold before a step's checks.
type Wait struct {
	// PodsReady waits until all pods matching the selector in the
	// namespace are Ready.
	PodsReady *PodSelector `json:"podsReady,omitempty"`
	// RouteCondition waits until the route's status.parents entry for the
	// parent Service, from the implementation's controller, has the
	// condition. With --implementation=existing any controller counts.
	RouteCondition *RouteCondition `json:"routeCondition,omitempty"`
	// Timeout bounds the wait. Default 90s.
	Timeout Duration `json:"timeout,omitempty"`
}

// PodSelector selects pods.
type PodSelector struct {
	Namespace string `json:"namespace"`
	Selector  string `json:"selector"`
	// Count is how many must be ready; 0 means at least one, all ready.
	Count int `json:"count,omitempty"`
}

// RouteCondition is an expected route status condition.
type RouteCondition struct {
	Route  ObjectRef `json:"route"`
	Parent ObjectRef `json:"parent"`
	Type   string    `json:"type"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
}

// ObjectRef names one object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Check sends requests from a client pod and states what they must show.
type Check struct {
	Name string `json:"name"`
	From Client `json:"from"`
	// Request is what the client sends.
	Request Request `json:"request"`
	// Expect is the expectation.
	Expect Expect `json:"expect"`
	// MaxRequests caps the requests each sequential test of a check may
	// send, answered or not. Optional: the statistics budget (--budget,
	// default 20000).
	MaxRequests int `json:"maxRequests,omitempty"`
}

// Client is a client pod serving the sampling API.
type Client struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Port of the client's API. Default 8081.
	Port int `json:"port,omitempty"`
}

// Request is one request template.
type Request struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// GRPC sends a gRPC echo call; URL is then host:port.
	GRPC bool `json:"grpc,omitempty"`
	// Timeout per request. Default 5s.
	Timeout Duration `json:"timeout,omitempty"`
	// Concurrency is how many requests the client keeps in flight.
	// Optional: 4.
	Concurrency int `json:"concurrency,omitempty"`
	// NewConnection opens a connection per request. Plain Service load
	// balancing (kube-proxy) picks a backend per connection, so a split it
	// makes is only visible over new connections. Optional.
	NewConnection bool `json:"newConnection,omitempty"`
}

// Expect is what the responses must show. Statistical parts (Split,
// StatusShare) are decided by suite/stats; the rest are exact.
//
// A split counts successes only: unless the check sets Status or
// StatusShare, every response must be an HTTP 2xx (for gRPC, status OK),
// so a backend that answers its share with 503s fails the check instead of
// counting toward the share. To split errors, say which status is
// expected.
type Expect struct {
	// Split is the expected share of responses per backend version. Each
	// response must be a success (see [Expect]); one from a backend
	// outside the split fails the check.
	Split map[string]float64 `json:"split,omitempty"`
	// Zero lists backends that must receive no request at all.
	Zero []string `json:"zero,omitempty"`
	// Status is the status code every response must have.
	Status int `json:"status,omitempty"`
	// StatusShare is the expected share of responses per status code.
	StatusShare map[string]float64 `json:"statusShare,omitempty"`
	// ResponseHeaders must be present with these values; a null value
	// means the header must be absent.
	ResponseHeaders map[string]*string `json:"responseHeaders,omitempty"`
	// RequestHeaders must have reached the backend with these values (the
	// echo backend reports them); null means absent.
	RequestHeaders map[string]*string `json:"requestHeaders,omitempty"`
	// Path is the path the backend must have seen (rewrites).
	Path string `json:"path,omitempty"`
	// Location is the redirect's Location header.
	Location string `json:"location,omitempty"`
	// TolerateErrors lists request error kinds (as the client reports
	// them: "connection refused", "reset", "timeout", …) that do not fail
	// the check; they are still counted and reported, and count toward
	// the request budget (MaxRequests), so a check whose requests all fail
	// ends and FAILs. For backends that cannot serve every connection (the
	// seed's netcat loop), not for hiding a mesh's errors.
	TolerateErrors []string `json:"tolerateErrors,omitempty"`
	// TolerateReason says in a few words whose errors TolerateErrors are
	// and why they are not the implementation's, e.g. "busybox nc
	// backend"; reports show it beside the tolerated counts ("12
	// connection refused tolerated (busybox nc backend)"). Set it
	// whenever TolerateErrors is set.
	TolerateReason string `json:"tolerateReason,omitempty"`
	// MaxLatency bounds every response's latency (timeouts), MinLatency
	// the other way.
	MaxLatency Duration `json:"maxLatency,omitempty"`
	MinLatency Duration `json:"minLatency,omitempty"`
}

// Duration is a time.Duration written as "100ms" in YAML.
type Duration struct{ time.Duration }

// Exec runs a command in a pod's container and checks its output.
type Exec struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	Command   []string `json:"command"`
	// Contains lists strings the output must all contain.
	Contains []string `json:"contains"`
}
