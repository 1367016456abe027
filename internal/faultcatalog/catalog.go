// Package faultcatalog is the catalogue of GAMMA faults gammaproof can
// inject into its own reference implementation (impl/fault, build tag
// gammaproof_faults) to show, with numbers, which wrong meshes the suite
// catches. It is data only: each fault's name, what it breaks, the real
// upstream bug or spec text it is modelled on, and the scenarios that must
// catch it.
//
// Release binaries never import this package; only files built with the
// gammaproof_faults tag (and tests) do.
package faultcatalog

import (
	"fmt"
	"slices"
	"strings"
)

// Fault is one catalogued bug.
type Fault struct {
	// Name is kebab-case and unique; gamma-controller --fault=NAME selects it.
	Name string
	// Description says in one line what the faulty mesh does.
	Description string
	// Source is the upstream issue of a real implementation the fault is
	// modelled on, or the Gateway API spec text it violates.
	Source string
	// Scenarios are folders under scenarios/ that must FAIL against the
	// fault. Empty when no scenario checks the behaviour yet (see Gap).
	Scenarios []string
	// Statistical is true when catching the fault depends on sampling a
	// share of requests (a split), so a single run may miss it.
	Statistical bool
	// Gap says why no scenario catches the fault yet, and what a scenario
	// must check to catch it; "" when Scenarios catch it.
	Gap string
}

var catalog = []Fault{
	{
		Name:        "split-skew-3",
		Description: "every weighted split moves 3 points from its largest backend to its smallest (70/30 becomes 67/33): below the suite's 5-point tolerance, it should not be caught",
		Source:      "https://github.com/hashicorp/consul/pull/16531 (HTTPRoute weights not dividing 10000 evenly were mis-registered)",
		Scenarios:   []string{"mesh-weight", "grpc-weight"},
		Statistical: true,
	},
	{
		Name:        "split-skew-5",
		Description: "every weighted split moves 5 points from its largest backend to its smallest (70/30 becomes 65/35): exactly the suite's tolerance",
		Source:      "https://github.com/hashicorp/consul/pull/16531 (HTTPRoute weights not dividing 10000 evenly were mis-registered)",
		Scenarios:   []string{"mesh-weight", "grpc-weight"},
		Statistical: true,
	},
	{
		Name:        "split-skew-8",
		Description: "every weighted split moves 8 points from its largest backend to its smallest (70/30 becomes 62/38)",
		Source:      "https://github.com/hashicorp/consul/pull/16531 (HTTPRoute weights not dividing 10000 evenly were mis-registered)",
		Scenarios:   []string{"mesh-weight", "grpc-weight"},
		Statistical: true,
	},
	{
		Name:        "weights-ignored",
		Description: "HTTPRoute backendRef weights are ignored: every backend with a weight above 0 gets an equal share",
		Source:      "https://github.com/envoyproxy/gateway/issues/4602 (backends weighted 99 and 1 received about the same number of requests)",
		Scenarios:   []string{"mesh-weight"},
		Statistical: true,
	},
	{
		Name:        "weight-zero-gets-one-percent",
		Description: "a backendRef with weight 0 is kept and gets 1% of the rule's requests instead of none",
		Source:      "https://github.com/linkerd/linkerd2/issues/13238 (HTTPRoute weights not honoured for ClusterIP traffic, even a 100/0 split)",
		Scenarios:   []string{"backend-semantics"},
		Statistical: true,
	},
	{
		Name:        "consumer-route-everywhere",
		Description: "a consumer route (in the caller's namespace) applies to callers in every namespace and displaces the producer route",
		Source:      "https://github.com/cilium/cilium/pull/45294 (GAMMA routes naming a Service in another namespace still intercepted its traffic)",
		Scenarios:   []string{"mesh-consumer-route"},
	},
	{
		Name:        "consumer-route-ignored",
		Description: "consumer routes are never applied: every caller gets the producer route",
		Source:      "https://github.com/cilium/cilium/pull/32744 (Cilium's GAMMA support: MeshConsumerRoute cannot be supported)",
		Scenarios:   []string{"mesh-consumer-route", "grants-spec"},
	},
	{
		Name:        "producer-route-own-namespace-only",
		Description: "a producer route applies only to callers in the Service's own namespace; callers elsewhere get plain Service load balancing",
		Source:      "GEP-1426, https://gateway-api.sigs.k8s.io/geps/gep-1426/#namespace-boundaries: a route in the Service's namespace (producer route) applies to all requests to the Service from any namespace without its own consumer route",
		Scenarios:   []string{"mesh-consumer-route"},
	},
	{
		Name:        "parentref-port-ignored",
		Description: "parentRef.port is ignored: a route scoped to one Service port applies to every port of the Service",
		Source:      "GEP-1426, https://gateway-api.sigs.k8s.io/geps/gep-1426/#ports: \"If port is set, the implementation MUST associate the route only with that port\" (Cilium added port support for GAMMA in https://github.com/cilium/cilium/pull/32744)",
		Scenarios:   []string{"mesh-ports"},
	},
	{
		Name:        "host-header-matching",
		Description: "routes are chosen by the Host header instead of the ClusterIP the caller connected to: a request whose Host names another Service misses the route",
		Source:      "https://github.com/istio/istio/issues/49149 (sidecars route HTTP by Host, ambient by destination address)",
		Scenarios:   []string{"mesh-clusterip-matching"},
	},
	{
		Name:        "prefix-not-segment-bounded",
		Description: "PathPrefix matches characters, not path segments: /v2 matches /v2example",
		Source:      "https://github.com/nginx/nginx-gateway-fabric/issues/796 (a /v2 prefix matched /v2example)",
		Scenarios:   []string{"mesh-matching"},
	},
	{
		Name:        "header-name-case-sensitive",
		Description: "header names in matches are compared case-sensitively with the name on the wire: a route's `version` never matches the client's `Version`",
		Source:      "Gateway API HTTPHeaderMatch.Name, https://github.com/kubernetes-sigs/gateway-api/pull/457: \"HTTP header field names MUST be always matched case-insensitively\"",
		Scenarios:   []string{"mesh-matching", "mesh-query-param-matching"},
	},
	{
		Name:        "query-match-ignored",
		Description: "queryParams matches are ignored: a rule with only query matches matches every request",
		Source:      "https://github.com/istio/istio/issues/16165 (queryParams matches always returned true)",
		Scenarios:   []string{"mesh-query-param-matching"},
	},
	{
		Name:        "precedence-by-rule-order",
		Description: "the first rule in list order wins instead of the spec's precedence (exact path, longest prefix, method, most headers, most query params)",
		Source:      "https://github.com/cilium/cilium/issues/38415 (a second HTTPRoute took precedence over the first regardless of its matches)",
		Scenarios:   []string{"mesh-query-param-matching"},
	},
	{
		Name:        "header-add-replaces",
		Description: "RequestHeaderModifier add replaces an existing header's value instead of appending to it",
		Source:      "Gateway API HTTPHeaderFilter.Add, https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPHeaderFilter: add \"appends to any existing values associated with the header name\"",
		Scenarios:   []string{"mesh-backend-request-header-modifier"},
	},
	{
		Name:        "rewrite-double-slash",
		Description: "URLRewrite ReplacePrefixMatch joins the replacement and the rest of the path with an extra slash: /old/page becomes /new//page",
		Source:      "https://github.com/envoyproxy/gateway/issues/3807 (ReplacePrefixMatch gave /api/service//version)",
		Scenarios:   []string{"mesh-filters"},
	},
	{
		Name:        "redirect-drops-port",
		Description: "RequestRedirect ignores its port: the Location keeps the request's port instead of the filter's",
		Source:      "https://github.com/envoyproxy/envoy/issues/17318 (host_redirect cleans up the request port when port_redirect is not specified)",
		Scenarios:   []string{"mesh-redirect-path-port-scheme"},
	},
	{
		Name:        "timeout-ignored",
		Description: "HTTPRoute rule timeouts (request and backendRequest) are ignored",
		Source:      "https://github.com/linkerd/linkerd2/issues/14713 (HTTPRoute rule-level timeouts not enforced)",
		Scenarios:   []string{"timeouts"},
	},
	{
		Name:        "retries-on-post",
		Description: "routes without a retry stanza retry resets and connection failures of every method, POST included, up to five times",
		Source:      "https://github.com/istio/istio/issues/13851 (Istio's default retry policy transparently retried POST requests that had connected)",
		Scenarios:   []string{"gammaproof-post-not-retried"},
	},
	{
		Name:        "strict-backend-without-grant",
		Description: "under the strict grant policy a cross-namespace backendRef without a ReferenceGrant is served anyway (status still says RefNotPermitted)",
		Source:      "https://github.com/kumahq/kuma/issues/18014 (cross-namespace backendRefs resolved without looking for a ReferenceGrant)",
		Scenarios:   []string{"grants-strict"},
	},
	{
		Name:        "revoked-grant-honoured",
		Description: "a ReferenceGrant once seen keeps allowing its references after it is deleted",
		Source:      "https://github.com/Kong/kubernetes-ingress-controller/issues/3289 (ReferenceGrant deletion does not revoke the grant)",
		Scenarios:   []string{"grants-strict"},
	},
	{
		Name:        "deleted-route-still-applied",
		Description: "a route once seen keeps being applied after it is deleted",
		Source:      "https://github.com/kgateway-dev/kgateway/issues/8947 (deleting an HTTPRoute did not remove its Envoy config)",
		Scenarios:   []string{"gammaproof-route-deleted"},
	},
	{
		Name:        "grpc-weights-ignored",
		Description: "GRPCRoute backendRef weights are ignored: every backend gets an equal share of calls",
		Source:      "https://github.com/nginx/nginx-gateway-fabric/issues/1768 (GRPCRoute backendRef weight traffic splitting not implemented)",
		Scenarios:   []string{"grpc-weight"},
		Statistical: true,
	},
}

// All returns every fault, in catalogue order. The slices are copies.
func All() []Fault {
	out := make([]Fault, len(catalog))
	for i, f := range catalog {
		f.Scenarios = slices.Clone(f.Scenarios)
		out[i] = f
	}
	return out
}

// Names returns every fault's name, in catalogue order.
func Names() []string {
	out := make([]string, len(catalog))
	for i, f := range catalog {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the fault called name, or an error listing the names.
func Lookup(name string) (Fault, error) {
	for _, f := range All() {
		if f.Name == name {
			return f, nil
		}
	}
	return Fault{}, fmt.Errorf("unknown fault %q; known faults: %s", name, strings.Join(Names(), ", "))
}
