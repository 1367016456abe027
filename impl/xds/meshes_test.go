package xds

import (
	"fmt"
	"time"

	"github.com/gammaproof/gammaproof/impl/model"
)

// Representative meshes for the golden tests, written as the model would
// produce them.

func ptr[T any](v T) *T { return &v }

func svc(ns, name string) model.ServiceRef { return model.ServiceRef{Namespace: ns, Name: name} }

func mcluster(ns, name string, port int32, proto model.Protocol, ips ...string) model.Cluster {
	c := model.Cluster{Name: model.ClusterName(svc(ns, name), port, proto), Service: svc(ns, name), Port: port, Protocol: proto}
	for _, ip := range ips {
		c.Endpoints = append(c.Endpoints, model.Endpoint{Address: ip, Port: 8080})
	}
	return c
}

func mlistener(ns, name string, port int32, caller string, vip string, routes ...model.Route) model.Listener {
	n := fmt.Sprintf("mesh~%s~%s~%d", ns, name, port)
	if caller != "" {
		n += "~from~" + caller
	}
	return model.Listener{
		Name: n, Service: svc(ns, name), Port: port, VIPs: []string{vip}, CallerNamespace: caller,
		ParentCluster: model.ClusterName(svc(ns, name), port, model.ProtocolHTTP1), Routes: routes,
	}
}

// backend is an HTTPRoute's backend (an HTTP/1.1 cluster).
func backend(ns, name string, port int32, weight uint32) model.Backend {
	return protoBackend(ns, name, port, weight, model.ProtocolHTTP1)
}

func protoBackend(ns, name string, port int32, weight uint32, proto model.Protocol) model.Backend {
	return model.Backend{Cluster: model.ClusterName(svc(ns, name), port, proto), Service: svc(ns, name), Port: port, Weight: weight}
}

func rt(kind, ns, name string, rule int, m model.Match) model.Route {
	src := model.RouteRef{Kind: kind, Namespace: ns, Name: name, Rule: rule}
	return model.Route{Name: src.String(), Source: src, GRPC: kind == "GRPCRoute", Match: m}
}

var prefixAll = model.Match{PathType: model.PathPrefix, PathValue: "/"}

// meshSplit is the seed: bookstore:8080 split 90/10 to v1/v2.
func meshSplit() *model.Mesh {
	r := rt("HTTPRoute", "default", "bookstore-httproute", 0, prefixAll)
	r.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 90), backend("default", "bookstore-v2", 8080, 10)}
	return &model.Mesh{
		Listeners: []model.Listener{mlistener("default", "bookstore", 8080, "", "198.19.0.10", r)},
		Clusters: []model.Cluster{
			mcluster("default", "bookstore-v1", 8080, model.ProtocolHTTP1, "198.18.0.11", "198.18.0.12"),
			mcluster("default", "bookstore-v2", 8080, model.ProtocolHTTP1, "198.18.0.21"),
		},
	}
}

// meshConsumer: a producer route for every caller plus team-b's consumer
// route (no backendRefs: to the parent itself, request timeout 100ms).
func meshConsumer() *model.Mesh {
	prod := rt("HTTPRoute", "team-a", "bookstore", 0, prefixAll)
	prod.Backends = []model.Backend{backend("team-a", "bookstore-v1", 8080, 70), backend("team-a", "bookstore-v2", 8080, 30)}
	cons := rt("HTTPRoute", "team-b", "bookstore-timeout", 0, prefixAll)
	cons.Backends = []model.Backend{backend("team-a", "bookstore", 8080, 1)}
	cons.Timeouts = model.Timeouts{Request: 100 * time.Millisecond}
	cons.ResponseHeaders = model.HeaderModifier{Set: []model.Header{{Name: "X-Consumer", Value: "team-b"}}}
	return &model.Mesh{
		Listeners: []model.Listener{
			mlistener("team-a", "bookstore", 8080, "", "198.19.1.10", prod),
			mlistener("team-a", "bookstore", 8080, "team-b", "198.19.1.10", cons),
		},
		Clusters: []model.Cluster{
			mcluster("team-a", "bookstore", 8080, model.ProtocolHTTP1, "198.18.1.11", "198.18.1.21"),
			mcluster("team-a", "bookstore-v1", 8080, model.ProtocolHTTP1, "198.18.1.11"),
			mcluster("team-a", "bookstore-v2", 8080, model.ProtocolHTTP1, "198.18.1.21"),
		},
	}
}

// meshHeaders: header, query and method matches with route- and
// backend-level header modifiers, in precedence order.
func meshHeaders() *model.Mesh {
	exact := rt("HTTPRoute", "default", "headers", 0, model.Match{
		PathType: model.PathExact, PathValue: "/books",
		Headers:     []model.StringMatch{{Name: "x-version", Value: "v2"}, {Name: "x-user", Value: "^a.*z$", Regex: true}},
		QueryParams: []model.StringMatch{{Name: "lang", Value: "en"}, {Name: "page", Value: "[0-9]+", Regex: true}},
		Method:      "GET",
	})
	b := backend("default", "bookstore-v2", 8080, 1)
	b.RequestHeaders = model.HeaderModifier{Add: []model.Header{{Name: "x-backend", Value: "v2"}}, Remove: []string{"x-drop-for-v2"}}
	b.ResponseHeaders = model.HeaderModifier{Set: []model.Header{{Name: "x-served-by", Value: "v2"}}}
	exact.Backends = []model.Backend{b}
	exact.RequestHeaders = model.HeaderModifier{
		Set: []model.Header{{Name: "x-route", Value: "headers"}}, Add: []model.Header{{Name: "x-trace", Value: "1"}},
		Remove: []string{"x-secret"},
	}
	exact.ResponseHeaders = model.HeaderModifier{Add: []model.Header{{Name: "x-mesh", Value: "gammaproof"}}, Remove: []string{"server"}}
	regex := rt("HTTPRoute", "default", "headers", 1, model.Match{PathType: model.PathRegex, PathValue: "/api/v[0-9]+/.*"})
	regex.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 1)}
	prefix := rt("HTTPRoute", "default", "headers", 2, model.Match{PathType: model.PathPrefix, PathValue: "/shelf/"})
	prefix.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 1)}
	return &model.Mesh{
		Listeners: []model.Listener{mlistener("default", "bookstore", 8080, "", "198.19.0.10", exact, regex, prefix)},
		Clusters: []model.Cluster{
			mcluster("default", "bookstore-v1", 8080, model.ProtocolHTTP1, "198.18.0.11"),
			mcluster("default", "bookstore-v2", 8080, model.ProtocolHTTP1, "198.18.0.21"),
		},
	}
}

// meshRedirect: redirects and URL rewrites.
func meshRedirect() *model.Mesh {
	redir := rt("HTTPRoute", "default", "moves", 0, model.Match{PathType: model.PathPrefix, PathValue: "/old"})
	redir.Redirect = &model.Redirect{Scheme: ptr("https"), Hostname: ptr("books.example"), Port: ptr(int32(8443)),
		Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/new"}, StatusCode: 301}
	full := rt("HTTPRoute", "default", "moves", 1, model.Match{PathType: model.PathExact, PathValue: "/gone"})
	full.Redirect = &model.Redirect{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/here"}, StatusCode: 302}
	rwPrefix := rt("HTTPRoute", "default", "moves", 2, model.Match{PathType: model.PathPrefix, PathValue: "/v1"})
	rwPrefix.Rewrite = &model.URLRewrite{Hostname: ptr("bookstore-v1.default"), Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/api"}}
	rwPrefix.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 1)}
	rwSlash := rt("HTTPRoute", "default", "moves", 3, model.Match{PathType: model.PathPrefix, PathValue: "/strip"})
	rwSlash.Rewrite = &model.URLRewrite{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/"}}
	rwSlash.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 1)}
	rwFull := rt("HTTPRoute", "default", "moves", 4, prefixAll)
	rwFull.Rewrite = &model.URLRewrite{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/index.html"}}
	rwFull.Backends = []model.Backend{backend("default", "bookstore-v1", 8080, 1)}
	return &model.Mesh{
		Listeners: []model.Listener{mlistener("default", "bookstore", 8080, "", "198.19.0.10", redir, full, rwPrefix, rwSlash, rwFull)},
		Clusters:  []model.Cluster{mcluster("default", "bookstore-v1", 8080, model.ProtocolHTTP1, "198.18.0.11")},
	}
}

// meshInvalid: a rule with one invalid backend (its share gets 500) and a
// weight-0 backend (never chosen: the model drops it, so only its cluster
// is left), and a rule whose backends are all invalid.
func meshInvalid() *model.Mesh {
	part := rt("HTTPRoute", "default", "partly-invalid", 0, model.Match{PathType: model.PathPrefix, PathValue: "/part"})
	part.Backends = []model.Backend{
		backend("default", "bookstore-v1", 8080, 50),
		{Service: svc("other", "forbidden"), Port: 8080, Weight: 50, Invalid: "RefNotPermitted"},
	}
	all := rt("HTTPRoute", "default", "all-invalid", 0, prefixAll)
	all.DirectResponse500 = true
	return &model.Mesh{
		Listeners: []model.Listener{mlistener("default", "bookstore", 8080, "", "198.19.0.10", part, all)},
		Clusters: []model.Cluster{
			mcluster("default", "bookstore-v1", 8080, model.ProtocolHTTP1, "198.18.0.11"),
			mcluster("default", "bookstore-v2", 8080, model.ProtocolHTTP1), // no ready endpoints: 503.
		},
	}
}

// meshGRPC: a GRPCRoute (h2c clusters) with timeouts, retries and a mirror.
func meshGRPC() *model.Mesh {
	r := rt("GRPCRoute", "grpc", "echo", 0, model.Match{PathType: model.PathExact, PathValue: "/echo.Echo/Say",
		Headers: []model.StringMatch{{Name: "x-tenant", Value: "a"}}, Method: "POST"})
	r.Backends = []model.Backend{protoBackend("grpc", "echo-v1", 9000, 80, model.ProtocolH2C), protoBackend("grpc", "echo-v2", 9000, 20, model.ProtocolH2C)}
	r.Timeouts = model.Timeouts{Request: 2 * time.Second, BackendRequest: 500 * time.Millisecond}
	r.Retry = &model.Retry{Attempts: 2, Codes: []int{503}, Backoff: 50 * time.Millisecond}
	r.Mirrors = []model.Mirror{{Cluster: model.ClusterName(svc("grpc", "echo-shadow"), 9000, model.ProtocolH2C), Service: svc("grpc", "echo-shadow"), Port: 9000, Numerator: 1, Denominator: 4}}
	l := mlistener("grpc", "echo", 9000, "", "198.19.2.10", r)
	l.AppProtocol = "kubernetes.io/h2c"
	l.ParentCluster = model.ClusterName(l.Service, l.Port, model.ProtocolH2C)
	return &model.Mesh{
		Listeners: []model.Listener{l},
		Clusters: []model.Cluster{
			mcluster("grpc", "echo-shadow", 9000, model.ProtocolH2C, "198.18.2.31"),
			mcluster("grpc", "echo-v1", 9000, model.ProtocolH2C, "198.18.2.11"),
			mcluster("grpc", "echo-v2", 9000, model.ProtocolH2C, "198.18.2.21"),
		},
	}
}
