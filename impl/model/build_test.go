package model_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

func TestBuild(t *testing.T) {
	// grantCheck checks what the grant policy made of HTTPRoute team-a/r:
	// the backends of the first route on team-a's bookstore:8080 listener
	// and the route's ResolvedRefs condition there.
	grantCheck := func(backendsWant, resolvedRefs string) func(*testing.T, *model.Mesh) {
		return func(t *testing.T, m *model.Mesh) {
			l := listener(t, m, "mesh~team-a~bookstore~8080")
			if got := backends(l.Routes[0]); got != backendsWant {
				t.Errorf("backends = %s, want %s", got, backendsWant)
			}
			wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore:8080", "ResolvedRefs", resolvedRefs)
		}
	}
	tests := []struct {
		name string
		// spec is the sentence of the Gateway API (GEP-1294, HTTPRoute or
		// GRPCRoute API doc) the case checks.
		spec string
		// file is the case's objects, testdata/cases/<file>, added to
		// testdata/cases/base.yaml.
		file   string
		policy grantpolicy.Policy
		check  func(t *testing.T, m *model.Mesh)
	}{
		{
			name: "producer route applies to every caller",
			spec: `GEP-1294: "A route is a producer route when the parentRef refers to a service in the same namespace. This route SHOULD apply to all incoming requests to the service, including from clients in other namespaces."`,
			file: "build/producer-route-applies-to-every-caller.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				if got := listenerNames(m); !slices.Equal(got, []string{"mesh~team-a~bookstore~8080"}) {
					t.Fatalf("listeners = %v", got)
				}
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				if l.CallerNamespace != "" || !slices.Equal(l.VIPs, []string{"198.19.0.10"}) || l.PortName != "http" {
					t.Errorf("listener = %+v", l)
				}
				wantRoutes(t, l, "HTTPRoute/team-a/split/rule0/match0 PathPrefix:/ -> svc~team-a~bookstore-v1~8080~h1=90,svc~team-a~bookstore-v2~8080~h1=10")
				wantStatus(t, m, "HTTPRoute/team-a/split", "bookstore:8080", "Accepted", "True/Accepted")
				wantStatus(t, m, "HTTPRoute/team-a/split", "bookstore:8080", "ResolvedRefs", "True/ResolvedRefs")
			},
		},
		{
			name: "consumer route only for its namespace and replaces producer routes there",
			spec: `GEP-1294: "consumer routes are scoped only the same namespace" and "Requests from a namespace with consumer routes will utilize the (possibly merged) set of routes in the consumer namespace; Requests from other namespaces will utilize the (possibly merged) set of routes in the producer namespace"`,
			file: "build/consumer-route-only-for-its-namespace-and-replaces-producer.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				want := []string{"mesh~team-a~bookstore~8080", "mesh~team-a~bookstore~8080~from~team-b"}
				if got := listenerNames(m); !slices.Equal(got, want) {
					t.Fatalf("listeners = %v, want %v", got, want)
				}
				wantRoutes(t, listener(t, m, want[0]), "HTTPRoute/team-a/producer/rule0/match0 PathPrefix:/ -> svc~team-a~bookstore-v1~8080~h1=1")
				c := listener(t, m, want[1])
				if c.CallerNamespace != "team-b" {
					t.Errorf("caller = %q", c.CallerNamespace)
				}
				// A rule without backendRefs forwards to the parent Service
				// (implementation-specific, see docs/architecture.md).
				wantRoutes(t, c, "HTTPRoute/team-b/consumer/rule0/match0 PathPrefix:/ -> svc~team-a~bookstore~8080~h1=1")
				if c.Routes[0].Timeouts.Request != 100*time.Millisecond {
					t.Errorf("timeout = %v", c.Routes[0].Timeouts.Request)
				}
				wantStatus(t, m, "HTTPRoute/team-b/consumer", "bookstore:8080", "Accepted", "True/Accepted")
			},
		},
		{
			name: "parentRef port scopes the route",
			spec: `GEP-1294: "If port is set, the implementation MUST associate the route only with that port. If port is not set, the implementation MUST associate the route with all ports defined in the Service."`,
			file: "build/parentref-port-scopes-the-route.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				want := []string{"mesh~team-a~bookstore~8080~from~team-c", "mesh~team-a~bookstore~9090", "mesh~team-a~bookstore~9090~from~team-c"}
				if got := listenerNames(m); !slices.Equal(got, want) {
					t.Fatalf("listeners = %v, want %v", got, want)
				}
			},
		},
		{
			name: "parentRef port the Service does not have",
			spec: `Accepted reason NoMatchingParent: "This reason is used with the "Accepted" condition when there are no matching Parents. ... when a Route ParentRef specifies a Port and/or SectionName that does not match"`,
			file: "build/parentref-port-the-service-does-not-have.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantListeners(t, m)
				wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore:1234", "Accepted", "False/NoMatchingParent")
				wantStatus(t, m, "HTTPRoute/team-a/r", "missing", "Accepted", "False/NoMatchingParent")
				if n := len(m.Routes[0].Parents); n != 3 {
					t.Errorf("parents = %d, want 3", n)
				}
			},
		},
		{
			name: "Gateway parents are not ours",
			spec: `GEP-1294 binds routes to a mesh through parentRefs of kind Service; a Gateway parent belongs to the Gateway's controller.`,
			file: "build/gateway-parents-are-not-ours.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				if len(m.Listeners) != 0 || len(m.Routes) != 0 || len(m.Clusters) != 0 {
					t.Errorf("mesh = %+v, want empty", m)
				}
			},
		},
		{
			name: "match precedence across routes",
			spec: `HTTPRoute rules.matches: "precedence must be given to the match having: "Exact" path match. "Prefix" path match with largest number of characters. Method match. Largest number of header matches. Largest number of query param matches." then "The oldest Route based on creation timestamp." then "alphabetical order by {namespace}/{name}"`,
			file: "build/match-precedence-across-routes.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				var got []string
				for _, r := range l.Routes {
					got = append(got, r.Name)
				}
				want := []string{
					"HTTPRoute/team-a/b-young/rule0/match5", // Exact
					"HTTPRoute/team-a/b-young/rule0/match2", // prefix /api + method
					"HTTPRoute/team-a/b-young/rule0/match3", // 2 headers
					"HTTPRoute/team-a/b-young/rule0/match4", // 1 header + 1 query
					"HTTPRoute/team-a/c-old/rule0/match0",   // oldest
					"HTTPRoute/team-a/a-young/rule0/match0", // alphabetical a < b
					"HTTPRoute/team-a/b-young/rule0/match1", // "/api/" is "/api"; same route: list order
					"HTTPRoute/team-a/b-young/rule0/match0", // "/"
				}
				if !slices.Equal(got, want) {
					t.Errorf("order =\n%q\nwant\n%q", got, want)
				}
				if h := l.Routes[2].Match.Headers; h[0].Name != "x-a" || h[1].Name != "x-b" {
					t.Errorf("headers = %+v, want lower-cased and sorted", h)
				}
			},
		},
		{
			name: "invalid backends: kinds, missing, weight 0",
			spec: `HTTPBackendRef: "It refers to an unknown or unsupported kind of resource. In this case, the Reason must be set to InvalidKind" / "It refers to a resource that does not exist. In this case, the Reason must be set to BackendNotFound"; rules.backendRefs: "the proportion of requests that would otherwise have been routed to an invalid backend MUST receive a 500 status code"; weight: "If weight is set to 0, no traffic should be forwarded for this entry."`,
			file: "build/invalid-backends-kinds-missing-weight-0.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantRoutes(t, listener(t, m, "mesh~team-a~bookstore~8080"),
					// same length: "the FIRST matching rule (in list order)"
					"HTTPRoute/team-a/r/rule1/match0 PathPrefix:/missing -> 500",
					"HTTPRoute/team-a/r/rule3/match0 PathPrefix:/allzero -> 500",
					"HTTPRoute/team-a/r/rule0/match0 PathPrefix:/kind -> svc~team-a~bookstore-v1~8080~h1=3,!InvalidKind=1",
					"HTTPRoute/team-a/r/rule2/match0 PathPrefix:/zero -> svc~team-a~bookstore-v2~8080~h1=1",
					"HTTPRoute/team-a/r/rule4/match0 PathPrefix:/dup -> svc~team-a~bookstore-v1~8080~h1=3,!BackendNotFound=1",
				)
				wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore:8080", "ResolvedRefs", "False/InvalidKind")
				wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore:8080", "Accepted", "True/Accepted")
			},
		},
		{
			name:   "strict: cross-namespace backendRef needs a ReferenceGrant",
			spec:   `HTTPBackendRef: "It refers a resource in another namespace when the reference has not been explicitly allowed by a ReferenceGrant (or equivalent concept). In this case, the Reason must be set to RefNotPermitted"`,
			policy: grantpolicy.Strict,
			file:   "build/strict-cross-namespace-backendref-needs-a-referencegrant.yaml",
			check:  grantCheck("!RefNotPermitted=1,svc~team-a~bookstore-v1~8080~h1=1", "False/RefNotPermitted"),
		},
		{
			name:   "strict: a matching ReferenceGrant permits the backendRef",
			spec:   `ReferenceGrant: "identifies kinds of resources in other namespaces that are trusted to reference the specified kinds of resources in the same namespace as the policy."`,
			policy: grantpolicy.Strict,
			file:   "build/strict-a-matching-referencegrant-permits-the-backendref.yaml",
			check:  grantCheck("svc~team-c~other~8080~h1=1", "True/ResolvedRefs"),
		},
		{
			name: "spec policy: cross-namespace references need no grant",
			spec: `GEP-1294: "Routes of either type can send traffic to backendRefs in any namespace. Unlike Gateway bound routes, this is allowed without a ReferenceGrant."`,
			file: "build/spec-policy-cross-namespace-references-need-no-grant.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				l := listener(t, m, "mesh~team-a~bookstore~8080~from~team-c")
				if got := backends(l.Routes[0]); got != "svc~team-a~bookstore-v2~8080~h1=1" {
					t.Errorf("backends = %s", got)
				}
			},
		},
		{
			name:   "strict: consumer parentRef without a grant is not applied",
			spec:   `GEP-1294: "if a mesh implementation does expose the ability to access a broader scope than would otherwise be reachable, then ReferenceGrant must be used for cross namespaces references." (grant policy strict, docs/architecture.md)`,
			policy: grantpolicy.Strict,
			file:   "build/strict-consumer-parentref-without-a-grant-is-not-applied.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantListeners(t, m)
				wantStatus(t, m, "HTTPRoute/team-c/r", "bookstore:8080", "Accepted", "False/NotAllowedByParent")
				wantStatus(t, m, "HTTPRoute/team-c/r", "bookstore:8080", "ResolvedRefs", "False/RefNotPermitted")
			},
		},
		{
			name: "unsupported filter rejects the rule; other rules stay",
			spec: `HTTPRouteFilter.type: "Unknown values here must result in the implementation setting the Accepted Condition for the Route to status: False, with a Reason of UnsupportedValue." and rules.filters: "If only a portion of Route Rules are invalid, implementations MUST set the "PartiallyInvalid" condition for the Route."`,
			file: "build/unsupported-filter-rejects-the-rule-other-rules-stay.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantStatus(t, m, "HTTPRoute/team-a/all-bad", "bookstore:9090", "Accepted", "False/UnsupportedValue")
				wantStatus(t, m, "HTTPRoute/team-a/half-bad", "bookstore:8080", "Accepted", "True/Accepted")
				wantStatus(t, m, "HTTPRoute/team-a/half-bad", "bookstore:8080", "PartiallyInvalid", "True/UnsupportedValue")
				wantListeners(t, m, "mesh~team-a~bookstore~8080")
				if got := routeTable(listener(t, m, "mesh~team-a~bookstore~8080")); len(got) != 1 {
					t.Errorf("routes = %q, want only /ok", got)
				}
			},
		},
		{
			name: "ReplacePrefixMatch with an Exact match",
			spec: `HTTPPathModifier: "ReplacePrefixMatch is only compatible with a PathPrefix HTTPRouteMatch. Using any other HTTPRouteMatch type on the same HTTPRouteRule will result in the implementation setting the Accepted Condition for the Route to status: False."`,
			file: "build/replaceprefixmatch-with-an-exact-match.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore:8080", "Accepted", "False/UnsupportedValue")
			},
		},
		{
			name: "filters, timeouts and retry reach the route",
			spec: `HTTPRouteRule: filters "define the filters that are applied to requests that match this rule"; timeouts.request / backendRequest; retry "defines the configuration for when to retry an HTTP request"`,
			file: "build/filters-timeouts-and-retry-reach-the-route.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				if len(l.Routes) != 2 {
					t.Fatalf("routes = %q", routeTable(l))
				}
				old, api := l.Routes[0], l.Routes[1] // same prefix length: list order
				if old.Redirect == nil || old.Redirect.StatusCode != 301 || old.Redirect.Path.Type != model.ReplacePrefixMatch || old.Redirect.Path.Value != "/new" || len(old.Backends) != 0 {
					t.Errorf("redirect route = %+v", old)
				}
				if api.RequestHeaders.Set[0] != (model.Header{Name: "X-Set", Value: "a"}) || api.RequestHeaders.Remove[0] != "x-gone" || api.ResponseHeaders.Add[0].Name != "X-Resp" {
					t.Errorf("header modifiers = %+v %+v", api.RequestHeaders, api.ResponseHeaders)
				}
				if api.Rewrite == nil || *api.Rewrite.Hostname != "example.internal" || api.Rewrite.Path.Value != "/v2" {
					t.Errorf("rewrite = %+v", api.Rewrite)
				}
				if len(api.Mirrors) != 1 || api.Mirrors[0].Cluster != "svc~team-a~bookstore-v2~8080~h1" || api.Mirrors[0].Numerator != 10 || api.Mirrors[0].Denominator != 100 {
					t.Errorf("mirrors = %+v", api.Mirrors)
				}
				if api.Backends[0].RequestHeaders.Set[0].Value != "v1" {
					t.Errorf("backend filter = %+v", api.Backends[0])
				}
				if api.Timeouts != (model.Timeouts{Request: 2 * time.Second, BackendRequest: 500 * time.Millisecond}) {
					t.Errorf("timeouts = %+v", api.Timeouts)
				}
				if api.Retry == nil || api.Retry.Attempts != 3 || !slices.Equal(api.Retry.Codes, []int{502, 503}) || api.Retry.Backoff != 10*time.Millisecond {
					t.Errorf("retry = %+v", api.Retry)
				}
				var names []string
				for _, c := range m.Clusters {
					names = append(names, c.Name)
				}
				if want := []string{"svc~team-a~bookstore-v1~8080~h1", "svc~team-a~bookstore-v2~8080~h1", "svc~team-a~bookstore~8080~h1"}; !slices.Equal(names, want) {
					t.Errorf("clusters = %v, want %v", names, want)
				}
			},
		},
		{
			name: "ready endpoints only",
			spec: `EndpointConditions.ready: "ready indicates that this endpoint is ready to receive traffic ... a nil value should be interpreted as "true""; rules.backendRefs: "When a HTTPBackendRef refers to a Service that has no ready endpoints, implementations SHOULD return a 503"`,
			file: "build/ready-endpoints-only.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				for _, c := range m.Clusters {
					switch c.Name {
					case "svc~team-a~bookstore-v1~8080~h1":
						want := []model.Endpoint{{Address: "198.18.0.5", Port: 80}, {Address: "198.18.0.7", Port: 80}}
						if !slices.Equal(c.Endpoints, want) || c.Protocol != model.ProtocolHTTP1 {
							t.Errorf("v1 = %+v", c)
						}
					case "svc~team-a~bookstore-v2~8080~h1":
						if len(c.Endpoints) != 0 {
							t.Errorf("v2 endpoints = %v, want none (the proxy answers 503)", c.Endpoints)
						}
					}
				}
			},
		},
		{
			name: "GRPCRoute wins over HTTPRoute on the same Service port",
			spec: `GEP-1294: "If multiple routes with different types both bind to the same Service and Port pair, only a single route type should be applied. The rejected routes should be ignored and have the RouteConditionAccepted status set to the (new) reason RouteReasonConflicted." Order: "1. GRPCRoute 2. HTTPRoute"`,
			file: "build/grpcroute-wins-over-httproute-on-the-same-service-port.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantStatus(t, m, "HTTPRoute/team-a/h", "bookstore:8080", "Accepted", "False/Conflicted")
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				if len(l.Routes) != 1 || !l.Routes[0].GRPC {
					t.Errorf("routes = %q", routeTable(l))
				}
				for _, c := range m.Clusters {
					if c.Protocol != model.ProtocolH2C {
						t.Errorf("cluster %s protocol = %s, want h2c", c.Name, c.Protocol)
					}
				}
			},
		},
		{
			name: "GRPCRoute match lowering and precedence",
			spec: `GRPCRouteRule.matches: "Precedence MUST be given to the rule with the largest number of: ... Characters in a matching service. Characters in a matching method. Header matches."`,
			file: "build/grpcroute-match-lowering-and-precedence.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantRoutes(t, listener(t, m, "mesh~team-a~bookstore~8080"),
					`GRPCRoute/team-a/g/rule3/match0 RegularExpression:/(?:a\..*)/(?:G.t|Put) -> svc~team-a~bookstore~8080~h2c=1`,
					`GRPCRoute/team-a/g/rule1/match0 Exact:/a.B/Get -> svc~team-a~bookstore~8080~h2c=1`,
					`GRPCRoute/team-a/g/rule0/match0 RegularExpression:/a\.B/[^/]+ -> svc~team-a~bookstore~8080~h2c=1`,
					`GRPCRoute/team-a/g/rule2/match0 RegularExpression:/[^/]+/Get -> svc~team-a~bookstore~8080~h2c=1`,
				)
			},
		},
		{
			name: "absurd input never panics and says why",
			spec: `BackendRef.weight: "+kubebuilder:validation:Minimum=0 +kubebuilder:validation:Maximum=1000000"; a bad value makes the rule invalid (UnsupportedValue).`,
			file: "build/absurd-input-never-panics-and-says-why.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantStatus(t, m, "HTTPRoute/team-a/r", "bookstore", "Accepted", "False/UnsupportedValue")
				if n := len(m.Routes[0].Parents); n != 1 {
					t.Errorf("parents = %d, want duplicates merged into 1", n)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := caseInput(t, tt.file)
			in.GrantPolicy = tt.policy
			m := model.Build(in)
			tt.check(t, m)
		})
	}
}
