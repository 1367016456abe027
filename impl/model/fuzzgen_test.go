package model_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// byteSource turns fuzz bytes into choices; it yields zeros when exhausted.
type byteSource struct {
	b []byte
}

func (s *byteSource) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *byteSource) pick(n int) int { return int(s.next()) % n }

func pickFrom[T any](s *byteSource, xs ...T) T { return xs[s.pick(len(xs))] }

// genInput builds an Input with few names so references collide often, and
// with the odd values the API server would reject (negative weights, bad
// regexes, unknown kinds and filters, duplicate backends).
func genInput(data []byte) model.Input {
	s := &byteSource{b: data}
	nss := []string{"a", "b", "c"}
	names := []string{"s0", "s1", "s2", "s3"}
	var in model.Input
	if s.pick(2) == 1 {
		in.GrantPolicy = grantpolicy.Strict
	}
	for _, ns := range nss {
		for _, n := range names {
			if s.pick(3) == 0 {
				continue
			}
			svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}}
			switch s.pick(6) {
			case 0:
				svc.Spec.ClusterIP = "None"
			case 1:
				svc.Spec.Type = corev1.ServiceTypeExternalName
			default:
				svc.Spec.ClusterIP = fmt.Sprintf("198.19.%d.%d", s.next(), s.next())
			}
			for range s.pick(3) + 1 {
				p := corev1.ServicePort{Name: pickFrom(s, "", "http", "grpc"), Port: pickFrom[int32](s, 80, 8080, 9090)}
				p.Protocol = pickFrom(s, corev1.ProtocolTCP, "", corev1.ProtocolUDP)
				if s.pick(3) == 0 {
					ap := pickFrom(s, "kubernetes.io/h2c", "grpc", "http")
					p.AppProtocol = &ap
				}
				svc.Spec.Ports = append(svc.Spec.Ports, p)
			}
			in.Services = append(in.Services, svc)
			es := discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: n + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: n}},
				AddressType: pickFrom(s, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeFQDN),
			}
			pn, pp := pickFrom(s, "", "http", "grpc"), int32(s.next())
			es.Ports = []discoveryv1.EndpointPort{{Name: &pn, Port: &pp}}
			for range s.pick(4) {
				ready := s.pick(2) == 0
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("198.18.0.%d", s.next())}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
			}
			in.EndpointSlices = append(in.EndpointSlices, es)
		}
	}
	for i := range s.pick(3) {
		g := gwv1beta1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: pickFrom(s, nss...), Name: fmt.Sprintf("g%d", i)}}
		g.Spec.From = []gwv1beta1.ReferenceGrantFrom{{Group: pickFrom[gwv1.Group](s, gwv1.GroupName, ""), Kind: pickFrom[gwv1.Kind](s, "HTTPRoute", "GRPCRoute"), Namespace: gwv1.Namespace(pickFrom(s, nss...))}}
		to := gwv1beta1.ReferenceGrantTo{Group: pickFrom[gwv1.Group](s, "", "core", "x"), Kind: pickFrom[gwv1.Kind](s, "Service", "Pod")}
		if s.pick(2) == 0 {
			n := gwv1.ObjectName(pickFrom(s, names...))
			to.Name = &n
		}
		g.Spec.To = []gwv1beta1.ReferenceGrantTo{to}
		in.ReferenceGrants = append(in.ReferenceGrants, g)
	}
	parent := func() gwv1.ParentReference {
		p := gwv1.ParentReference{Name: gwv1.ObjectName(pickFrom(s, names...))}
		group, kind := pickFrom[gwv1.Group](s, "", "", gwv1.GroupName), pickFrom[gwv1.Kind](s, "Service", "Service", "Gateway")
		p.Group, p.Kind = &group, &kind
		if s.pick(2) == 0 {
			ns := gwv1.Namespace(pickFrom(s, nss...))
			p.Namespace = &ns
		}
		if s.pick(2) == 0 {
			port := pickFrom[gwv1.PortNumber](s, 80, 8080, 1)
			p.Port = &port
		}
		if s.pick(8) == 0 {
			sn := gwv1.SectionName("http")
			p.SectionName = &sn
		}
		return p
	}
	backend := func() gwv1.BackendRef {
		b := gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(pickFrom(s, names...))}}
		if s.pick(5) == 0 {
			g, k := gwv1.Group(pickFrom(s, "", "x.io")), gwv1.Kind(pickFrom(s, "Service", "Pod"))
			b.Group, b.Kind = &g, &k
		}
		if s.pick(2) == 0 {
			ns := gwv1.Namespace(pickFrom(s, nss...))
			b.Namespace = &ns
		}
		if s.pick(6) != 0 {
			port := pickFrom[gwv1.PortNumber](s, 80, 8080, 9090, 7)
			b.Port = &port
		}
		if s.pick(2) == 0 {
			w := pickFrom[int32](s, 0, 1, 90, -1, 1_000_000, 2_000_000_000)
			b.Weight = &w
		}
		return b
	}
	header := func() gwv1.HTTPHeaderFilter {
		return gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "X-A", Value: "1"}}, Remove: []string{pickFrom(s, "X-B", "x-b")}}
	}
	created := func() metav1.Time {
		return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, s.pick(3), 0, time.UTC))
	}
	for i := range s.pick(6) {
		r := gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: pickFrom(s, nss...), Name: fmt.Sprintf("h%d", i), CreationTimestamp: created(), Generation: int64(s.next())}}
		for range s.pick(3) + 1 {
			r.Spec.ParentRefs = append(r.Spec.ParentRefs, parent())
		}
		for range s.pick(4) {
			var rule gwv1.HTTPRouteRule
			for range s.pick(3) {
				var m gwv1.HTTPRouteMatch
				if s.pick(2) == 0 {
					t := pickFrom(s, gwv1.PathMatchExact, gwv1.PathMatchPathPrefix, gwv1.PathMatchRegularExpression, "Glob")
					v := pickFrom(s, "/", "/a", "/a/", "a", "([", "/a/.*", "")
					m.Path = &gwv1.HTTPPathMatch{Type: &t, Value: &v}
				}
				for range s.pick(3) {
					t := pickFrom(s, gwv1.HeaderMatchExact, gwv1.HeaderMatchRegularExpression)
					m.Headers = append(m.Headers, gwv1.HTTPHeaderMatch{Type: &t, Name: gwv1.HTTPHeaderName(pickFrom(s, "X-A", "x-a", "b")), Value: pickFrom(s, "1", "(")})
				}
				for range s.pick(2) {
					m.QueryParams = append(m.QueryParams, gwv1.HTTPQueryParamMatch{Name: "q", Value: "1"})
				}
				if s.pick(3) == 0 {
					meth := gwv1.HTTPMethod(pickFrom(s, "GET", "POST"))
					m.Method = &meth
				}
				rule.Matches = append(rule.Matches, m)
			}
			for range s.pick(3) {
				f := gwv1.HTTPRouteFilter{Type: pickFrom(s, gwv1.HTTPRouteFilterRequestHeaderModifier, gwv1.HTTPRouteFilterResponseHeaderModifier,
					gwv1.HTTPRouteFilterRequestRedirect, gwv1.HTTPRouteFilterURLRewrite, gwv1.HTTPRouteFilterRequestMirror,
					gwv1.HTTPRouteFilterExtensionRef, gwv1.HTTPRouteFilterCORS, "Bogus")}
				if s.pick(6) != 0 { // sometimes the union member is missing
					h := header()
					pm := &gwv1.HTTPPathModifier{Type: pickFrom(s, gwv1.FullPathHTTPPathModifier, gwv1.PrefixMatchHTTPPathModifier, "Other")}
					v := "/x"
					pm.ReplaceFullPath, pm.ReplacePrefixMatch = &v, &v
					code := pickFrom(s, 301, 302, 200)
					f.RequestHeaderModifier, f.ResponseHeaderModifier = &h, &h
					f.RequestRedirect = &gwv1.HTTPRequestRedirectFilter{Path: pm, StatusCode: &code}
					f.URLRewrite = &gwv1.HTTPURLRewriteFilter{Path: pm}
					pct := pickFrom[int32](s, 0, 50, 100, 150, -1)
					f.RequestMirror = &gwv1.HTTPRequestMirrorFilter{BackendRef: backend().BackendObjectReference, Percent: &pct}
					f.ExtensionRef = &gwv1.LocalObjectReference{Group: "x.io", Kind: "K", Name: "n"}
				}
				rule.Filters = append(rule.Filters, f)
			}
			for range s.pick(4) {
				br := gwv1.HTTPBackendRef{BackendRef: backend()}
				if s.pick(4) == 0 {
					h := header()
					br.Filters = []gwv1.HTTPRouteFilter{{Type: pickFrom(s, gwv1.HTTPRouteFilterRequestHeaderModifier, gwv1.HTTPRouteFilterExtensionRef, gwv1.HTTPRouteFilterURLRewrite), RequestHeaderModifier: &h}}
				}
				rule.BackendRefs = append(rule.BackendRefs, br)
			}
			if s.pick(3) == 0 {
				req, be := gwv1.Duration(pickFrom(s, "1s", "0s", "10ms", "bogus", "-1s")), gwv1.Duration(pickFrom(s, "2s", "500ms"))
				rule.Timeouts = &gwv1.HTTPRouteTimeouts{Request: &req, BackendRequest: &be}
			}
			if s.pick(4) == 0 {
				att := pickFrom(s, 0, 2, 1000)
				rule.Retry = &gwv1.HTTPRouteRetry{Attempts: &att, Codes: []gwv1.HTTPRouteRetryStatusCode{pickFrom[gwv1.HTTPRouteRetryStatusCode](s, 503, 200)}}
			}
			r.Spec.Rules = append(r.Spec.Rules, rule)
		}
		in.HTTPRoutes = append(in.HTTPRoutes, r)
	}
	for i := range s.pick(3) {
		r := gwv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: pickFrom(s, nss...), Name: fmt.Sprintf("g%d", i), CreationTimestamp: created()}}
		r.Spec.ParentRefs = []gwv1.ParentReference{parent()}
		for range s.pick(3) {
			var rule gwv1.GRPCRouteRule
			for range s.pick(3) {
				t := pickFrom(s, gwv1.GRPCMethodMatchExact, gwv1.GRPCMethodMatchRegularExpression, "Other")
				svc, meth := pickFrom(s, "", "a.B", "a.*", "("), pickFrom(s, "", "Get", "G.t")
				rule.Matches = append(rule.Matches, gwv1.GRPCRouteMatch{Method: &gwv1.GRPCMethodMatch{Type: &t, Service: &svc, Method: &meth}})
			}
			for range s.pick(3) {
				rule.BackendRefs = append(rule.BackendRefs, gwv1.GRPCBackendRef{BackendRef: backend()})
			}
			if s.pick(3) == 0 {
				rule.Filters = []gwv1.GRPCRouteFilter{{Type: pickFrom(s, gwv1.GRPCRouteFilterRequestHeaderModifier, gwv1.GRPCRouteFilterExtensionRef, "Bogus")}}
			}
			r.Spec.Rules = append(r.Spec.Rules, rule)
		}
		in.GRPCRoutes = append(in.GRPCRoutes, r)
	}
	return in
}

// FuzzBuildGenerated drives Build with generated objects (many more
// executions per second than YAML, and every one reaches Build): no panic,
// deterministic output, and invariants the data plane relies on.
func FuzzBuildGenerated(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"))
	f.Add([]byte("gammaproof mesh fuzz seed with enough bytes to build a few routes and services ............................................"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := genInput(data)
		m := model.Build(in)
		if !reflect.DeepEqual(m, model.Build(genInput(data))) {
			t.Fatal("two Builds of the same input differ")
		}
		clusters := map[string]bool{}
		for _, c := range m.Clusters {
			clusters[c.Name] = true
		}
		for _, l := range m.Listeners {
			if len(l.Routes) == 0 {
				t.Errorf("listener %s has no routes", l.Name)
			}
			for _, r := range l.Routes {
				var total uint64
				for _, b := range r.Backends {
					total += uint64(b.Weight)
					if b.Weight == 0 {
						t.Errorf("%s: weight-0 backend kept", r.Name)
					}
					if (b.Invalid == "") != (b.Cluster != "") {
						t.Errorf("%s: backend %+v must have exactly one of Cluster and Invalid", r.Name, b)
					}
					if b.Cluster != "" && !clusters[b.Cluster] {
						t.Errorf("%s: backend cluster %s missing from Clusters", r.Name, b.Cluster)
					}
				}
				if total > 1<<32-1 {
					t.Errorf("%s: weights sum to %d", r.Name, total)
				}
				if r.Redirect == nil && !r.DirectResponse500 && len(r.Backends) == 0 {
					t.Errorf("%s: no action", r.Name)
				}
				for _, mi := range r.Mirrors {
					if !clusters[mi.Cluster] {
						t.Errorf("%s: mirror cluster %s missing", r.Name, mi.Cluster)
					}
				}
			}
		}
		for _, rs := range m.Routes {
			for _, p := range rs.Parents {
				if len(p.Conditions) < 2 || p.Conditions[0].Type != "Accepted" || p.Conditions[1].Type != "ResolvedRefs" {
					t.Errorf("%s/%s: conditions %+v", rs.Namespace, rs.Name, p.Conditions)
				}
				for _, c := range p.Conditions {
					if c.Reason == "" || c.Message == "" {
						t.Errorf("%s/%s: condition %s without reason or message", rs.Namespace, rs.Name, c.Type)
					}
				}
			}
		}
	})
}
