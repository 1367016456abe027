package model_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gammaproof/gammaproof/impl/model"
)

// parentCond returns condition typ of the i-th status parent of route
// "Kind/ns/name"; a zero Condition when there is none.
func parentCond(t testing.TB, m *model.Mesh, route string, i int, typ string) metav1.Condition {
	t.Helper()
	for _, rs := range m.Routes {
		if rs.Kind+"/"+rs.Namespace+"/"+rs.Name != route {
			continue
		}
		if i >= len(rs.Parents) {
			t.Fatalf("%s has %d status parents, want at least %d", route, len(rs.Parents), i+1)
		}
		for _, c := range rs.Parents[i].Conditions {
			if c.Type == typ {
				return c
			}
		}
		return metav1.Condition{}
	}
	t.Fatalf("no status for %s", route)
	return metav1.Condition{}
}

// wantCond fails unless the condition is status/reason and its message
// contains every one of msgs.
func wantCond(t testing.TB, c metav1.Condition, statusReason string, msgs ...string) {
	t.Helper()
	if got := string(c.Status) + "/" + c.Reason; got != statusReason {
		t.Errorf("%s = %s (%q), want %s", c.Type, got, c.Message, statusReason)
	}
	for _, s := range msgs {
		if !strings.Contains(c.Message, s) {
			t.Errorf("%s message %q does not say %q", c.Type, c.Message, s)
		}
	}
}

// cluster returns the cluster named name.
func cluster(t testing.TB, m *model.Mesh, name string) model.Cluster {
	t.Helper()
	for _, c := range m.Clusters {
		if c.Name == name {
			return c
		}
	}
	var names []string
	for _, c := range m.Clusters {
		names = append(names, c.Name)
	}
	t.Fatalf("no cluster %q; have %v", name, names)
	return model.Cluster{}
}

// TestSpec checks the cases of issue #12 (items 1–4 and 14) against the
// text of Gateway API v1.6.3 and GEP-1294 that each one quotes.
func TestSpec(t *testing.T) {
	// acceptedOnly checks that HTTPRoute team-a/r is Accepted on its first
	// parent and the mesh has the one listener it asks for.
	acceptedOnly := func(listener string) func(*testing.T, *model.Mesh) {
		return func(t *testing.T, m *model.Mesh) {
			wantListeners(t, m, listener)
			wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "Accepted"), "True/Accepted")
		}
	}
	tests := []struct {
		name  string
		spec  string
		file  string // testdata/cases/<file>, added to base.yaml
		check func(t *testing.T, m *model.Mesh)
	}{
		{
			name:  "sectionName selects the Service port by name",
			spec:  `ParentReference.sectionName: "Service: Port name." ... "Support: Core"`,
			file:  "spec/sectionname-selects-the-service-port-by-name.yaml",
			check: acceptedOnly("mesh~team-a~bookstore~9090"), // the admin port
		},
		{
			name:  "sectionName and port that agree",
			spec:  `ParentReference.port: "When the parent resource is a Service, this targets a specific port in the Service spec. When both Port (experimental) and SectionName are specified, the name and port of the selected port must match both specified values."`,
			file:  "spec/sectionname-and-port-that-agree.yaml",
			check: acceptedOnly("mesh~team-a~bookstore~8080"),
		},
		{
			name: "sectionName and port that disagree, and a port name that does not exist",
			spec: `ParentReference.port: "the name and port of the selected port must match both specified values"; reason NoMatchingParent: "when a Route ParentRef specifies a Port and/or SectionName that does not match"`,
			file: "spec/sectionname-and-port-that-disagree-and-a-port-name-that.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantListeners(t, m)
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "Accepted"), "False/NoMatchingParent",
					`sectionName "http" is port 8080`, "but port is 9090", "must name the same port")
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 1, "Accepted"), "False/NoMatchingParent",
					`no port named "grpc"`, "http (8080)", "admin (9090)")
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 2, "Accepted"), "False/NoMatchingParent",
					"no TCP port 1234", "http (8080)", "admin (9090)")
			},
		},
		{
			name: "a producer GRPCRoute displaces a consumer HTTPRoute on the same Service port",
			spec: `GEP-1294 "Route types": "If multiple routes with different types both bind to the same Service and Port pair, only a single route type should be applied. The rejected routes should be ignored and have the RouteConditionAccepted status set to the (new) reason RouteReasonConflicted." "1. GRPCRoute 2. HTTPRoute"`,
			file: "spec/a-producer-grpcroute-displaces-a-consumer-httproute-on-the.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantCond(t, parentCond(t, m, "HTTPRoute/team-c/h", 0, "Accepted"), "False/Conflicted", "GRPCRoute team-a/g", "GEP-1294")
				wantCond(t, parentCond(t, m, "GRPCRoute/team-a/g", 0, "Accepted"), "True/Accepted")
				// The rejected route is ignored: team-c's callers get the
				// producer's routes, like every other caller.
				wantListeners(t, m, "mesh~team-a~bookstore~8080") // only the producer's
			},
		},
		{
			name: "a consumer GRPCRoute does not displace the producer's HTTPRoute; both statuses say why",
			spec: `GEP-1294 "Namespace boundaries": "consumer routes are scoped only the same namespace. This ensures that for traffic between two namespaces, another unrelated namespace cannot modify their traffic." — which "Route types" would break if team-c's GRPCRoute rejected team-a's HTTPRoute for every caller`,
			file: "spec/a-consumer-grpcroute-does-not-displace-the-producer-s.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/h", 0, "Accepted"), "True/Accepted",
					"GRPCRoute team-c/g", "does not displace", "GEP-1294")
				wantCond(t, parentCond(t, m, "GRPCRoute/team-c/g", 0, "Accepted"), "True/Accepted",
					"HTTPRoute team-a/h", "HTTPRoute team-d/h", "only to requests from namespace team-c")
				wantCond(t, parentCond(t, m, "HTTPRoute/team-d/h", 0, "Accepted"), "True/Accepted", "GRPCRoute team-c/g", "GRPCRoute team-e/g2")
				want := []string{"mesh~team-a~bookstore~8080", "mesh~team-a~bookstore~8080~from~team-c", "mesh~team-a~bookstore~8080~from~team-d", "mesh~team-a~bookstore~8080~from~team-e"}
				if got := listenerNames(m); !slices.Equal(got, want) {
					t.Fatalf("listeners = %v, want %v", got, want)
				}
				if l := listener(t, m, want[0]); len(l.Routes) != 1 || l.Routes[0].GRPC {
					t.Errorf("producer listener = %q, want team-a's HTTPRoute", routeTable(l))
				}
			},
		},
		{
			name: "all backendRefs invalid: 500, with or without filters; a redirect answers",
			spec: `HTTPRouteRule.backendRefs: "If *all* entries in BackendRefs are invalid, and there are also no filters specified in this route rule, *all* traffic which matches this rule MUST receive a 500 status code." (with filters the spec is silent: gammaproof answers 500 too, a redirect answers the redirect)`,
			file: "spec/all-backendrefs-invalid-500-with-or-without-filters-a.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				got := routeTable(listener(t, m, "mesh~team-a~bookstore~8080"))
				want := []string{
					"HTTPRoute/team-a/r/rule1/match0 PathPrefix:/filtered -> 500",
					"HTTPRoute/team-a/r/rule2/match0 PathPrefix:/redirect -> redirect 301",
					"HTTPRoute/team-a/r/rule0/match0 PathPrefix:/plain -> 500",
				}
				if !slices.Equal(got, want) {
					t.Errorf("routes =\n%q\nwant\n%q", got, want)
				}
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "ResolvedRefs"), "False/BackendNotFound",
					"rule 0: no valid backendRef: matching requests get 500",
					"rule 1: no valid backendRef: matching requests get 500 although the rule has filters (gammaproof's choice; the spec is silent when a rule has filters)",
					"rule 2: no valid backendRef: its RequestRedirect filter answers matching requests")
			},
		},
		{
			name: "GRPCRoute: all backendRefs invalid is UNAVAILABLE",
			spec: `GRPCRouteRule.backendRefs: "If *all* entries in BackendRefs are invalid, and there are also no filters specified in this route rule, *all* traffic which matches this rule MUST receive an UNAVAILABLE status."`,
			file: "spec/grpcroute-all-backendrefs-invalid-is-unavailable.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				if len(l.Routes) != 1 || !l.Routes[0].DirectResponse500 || !l.Routes[0].GRPC {
					t.Errorf("routes = %q, want one gRPC route answered without a backend", routeTable(l))
				}
				wantCond(t, parentCond(t, m, "GRPCRoute/team-a/g", 0, "ResolvedRefs"), "False/BackendNotFound",
					"rule 0: no valid backendRef: matching requests get UNAVAILABLE (HTTP 503)")
			},
		},
		{
			name: "every weight 0: 500, and the status says the spec is silent",
			spec: `BackendRef.weight: "If weight is set to 0, no traffic should be forwarded for this entry." With every entry 0 nothing may be forwarded; what to answer the spec does not say for mesh.`,
			file: "spec/every-weight-0-500-and-the-status-says-the-spec-is-silent.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				l := listener(t, m, "mesh~team-a~bookstore~8080")
				if len(l.Routes) != 1 || !l.Routes[0].DirectResponse500 {
					t.Errorf("routes = %q, want one 500", routeTable(l))
				}
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "Accepted"), "True/Accepted",
					"rule 0: every backendRef has weight 0: matching requests get 500 (gammaproof's choice; the spec is silent for mesh)")
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "ResolvedRefs"), "True/ResolvedRefs")
			},
		},
		{
			name: "a rule without backendRefs forwards to the parent Service, and says so",
			spec: `HTTPRouteRule.backendRefs is optional; for mesh the spec does not say where a rule without backendRefs sends requests (upstream's gateway-side HTTPRouteNoBackendRefs expects 500). gammaproof forwards to the parent Service and writes that into status.`,
			file: "spec/a-rule-without-backendrefs-forwards-to-the-parent-service.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				wantCond(t, parentCond(t, m, "HTTPRoute/team-a/r", 0, "Accepted"), "True/Accepted",
					"rule 1 has no backendRefs: forwarding to the parent Service (gammaproof's choice; the spec is silent for mesh)")
				if c := parentCond(t, m, "HTTPRoute/team-a/r", 0, "Accepted"); strings.Contains(c.Message, "rule 0") {
					t.Errorf("Accepted message %q mentions rule 0, which has backendRefs", c.Message)
				}
				wantCond(t, parentCond(t, m, "GRPCRoute/team-a/g", 0, "Accepted"), "True/Accepted",
					"the route has no rules: forwarding to the parent Service (gammaproof's choice; the spec is silent for mesh)")
			},
		},
		{
			name: "the same problem twice is said once",
			spec: `Condition.message: "a human readable message indicating details about the transition" (issue #12 item 14: a message repeating itself hides the rest)`,
			file: "spec/the-same-problem-twice-is-said-once.yaml",
			check: func(t *testing.T, m *model.Mesh) {
				c := parentCond(t, m, "HTTPRoute/team-a/r", 0, "ResolvedRefs")
				wantCond(t, c, "False/BackendNotFound", "backendRef Service team-a/nope not found")
				if n := strings.Count(c.Message, "team-a/nope not found"); n != 1 {
					t.Errorf("ResolvedRefs message %q says it %d times, want once", c.Message, n)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := caseInput(t, tt.file)
			m := model.Build(in)
			tt.check(t, m)
			// The notes and conflicts do not depend on input order.
			slices.Reverse(in.HTTPRoutes)
			slices.Reverse(in.GRPCRoutes)
			if rev := model.Build(in); !reflect.DeepEqual(rev, m) {
				t.Errorf("reversing the routes changes the mesh:\n got %+v\nwant %+v", rev.Routes, m.Routes)
			}
		})
	}
}

// TestIsolationAcrossNamespaces adds, one at a time, routes a namespace
// team-c writes that reach team-a's Services every way a route can (as
// backends, mirrors, a consumer parent, with its own protocol, timeouts and
// retries), and requires that team-a's listener for every other caller and
// every cluster its routes use stay exactly as they were.
//
// GEP-1294 "Namespace boundaries": "consumer routes are scoped only the same
// namespace. This ensures that for traffic between two namespaces, another
// unrelated namespace cannot modify their traffic." Routes of team-c may
// reach team-a's backends ("Routes of either type can send traffic to
// backendRefs in any namespace"), but nothing team-c writes may change how
// team-a's routes reach theirs.
func TestIsolationAcrossNamespaces(t *testing.T) {
	base := model.Build(caseInput(t, "isolation-base.yaml"))
	ownListener := listener(t, base, "mesh~team-a~bookstore~8080")
	ownClusters := map[string]model.Cluster{}
	for _, r := range ownListener.Routes {
		for _, b := range r.Backends {
			ownClusters[b.Cluster] = cluster(t, base, b.Cluster)
		}
		for _, mr := range r.Mirrors {
			ownClusters[mr.Cluster] = cluster(t, base, mr.Cluster)
		}
	}
	if len(ownClusters) != 3 {
		t.Fatalf("team-a's routes use clusters %v, want v1, v2 and the parent", ownClusters)
	}
	for _, c := range ownClusters {
		if c.Protocol != model.ProtocolHTTP1 {
			t.Fatalf("cluster %s = %s, want h1 before team-c writes anything", c.Name, c.Protocol)
		}
	}
	ownStatus := func(m *model.Mesh) []string {
		var out []string
		for _, typ := range []string{"Accepted", "ResolvedRefs"} {
			c := parentCond(t, m, "HTTPRoute/team-a/own", 0, typ)
			out = append(out, typ+"="+string(c.Status)+"/"+c.Reason)
		}
		return out
	}

	for _, tc := range []struct{ path, file string }{
		{"protocol: a GRPCRoute's backendRef to team-a's backend", "isolation/protocol-a-grpcroute-s-backendref-to-team-a-s-backend.yaml"},
		{"protocol: a GRPCRoute's mirror to team-a's backend", "isolation/protocol-a-grpcroute-s-mirror-to-team-a-s-backend.yaml"},
		{"protocol and conflicts: a consumer GRPCRoute on team-a's Service port", "isolation/protocol-and-conflicts-a-consumer-grpcroute-on-team-a-s.yaml"},
		{"timeouts, retries, mirrors: a consumer HTTPRoute on team-a's Service port", "isolation/timeouts-retries-mirrors-a-consumer-httproute-on-team-a-s.yaml"},
		{"parent as a backend: team-c's own route to team-a's Service", "isolation/parent-as-a-backend-team-c-s-own-route-to-team-a-s-service.yaml"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			m := model.Build(caseInput(t, "isolation-base.yaml", tc.file))
			if got := listener(t, m, ownListener.Name); !reflect.DeepEqual(got, ownListener) {
				t.Errorf("team-a's listener changed:\n got %+v\nwant %+v", got, ownListener)
			}
			for name, want := range ownClusters {
				if got := cluster(t, m, name); !reflect.DeepEqual(got, want) {
					t.Errorf("cluster %s changed: got %+v, want %+v", name, got, want)
				}
			}
			if got, want := ownStatus(m), ownStatus(base); !slices.Equal(got, want) {
				t.Errorf("team-a's route status = %v, want %v", got, want)
			}
			// team-c's own routes still get what they asked for: gRPC
			// speaks h2c to every cluster it uses.
			for _, l := range m.Listeners {
				for _, r := range l.Routes {
					if !r.GRPC {
						continue
					}
					for _, b := range r.Backends {
						if c := cluster(t, m, b.Cluster); c.Protocol != model.ProtocolH2C {
							t.Errorf("GRPCRoute backend cluster %s = %s, want h2c", c.Name, c.Protocol)
						}
					}
					for _, mr := range r.Mirrors {
						if c := cluster(t, m, mr.Cluster); c.Protocol != model.ProtocolH2C {
							t.Errorf("GRPCRoute mirror cluster %s = %s, want h2c", c.Name, c.Protocol)
						}
					}
				}
			}
		})
	}
}
