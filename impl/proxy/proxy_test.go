package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestWeightedSplit(t *testing.T) {
	ads := startADS(t)
	v1, v2, v3 := startEcho(t, "v1"), startEcho(t, "v2"), startEcho(t, "v3")
	ads.set(t,
		listener(t, "mesh~default~bookstore~8080", "198.19.0.10"),
		routeConfig("mesh~default~bookstore~8080", &routev3.Route{Name: "split", Match: prefix("/"),
			Action: &routev3.Route_Route{Route: weighted(wc{"v1", 90}, wc{"v2", 10}, wc{"v3", 0})}}),
		cluster(t, "v1", false), cluster(t, "v2", false), cluster(t, "v3", false),
		cla(t, "v1", hostPort(t, v1.URL)), cla(t, "v2", hostPort(t, v2.URL)), cla(t, "v3", hostPort(t, v3.URL)),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "mesh~default~bookstore~8080")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/"); return r.StatusCode == 200 })

	const n = 2000
	before := p.metric(t, "gammaproof_proxy_requests_total", map[string]string{"route": "split", "cluster": "v2", "code": "200"})
	counts := map[string]int{}
	for range n {
		resp, e := get(t, base+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		counts[e.Backend]++
	}
	share := float64(counts["v1"]) / n
	t.Logf("counts over %d requests: %v (v1 share %.3f)", n, counts, share)
	if share < 0.87 || share > 0.93 {
		t.Errorf("v1 share %.3f, want 0.90 ± 0.03", share)
	}
	if counts["v1"]+counts["v2"] != n {
		t.Errorf("v1+v2 = %d, want %d", counts["v1"]+counts["v2"], n)
	}
	if counts["v3"] != 0 {
		t.Errorf("weight-0 backend v3 got %d requests, want 0", counts["v3"])
	}
	if got := p.metric(t, "gammaproof_proxy_requests_total", map[string]string{"route": "split", "cluster": "v2", "code": "200"}); got-before != float64(counts["v2"]) {
		t.Errorf("requests_total{cluster=v2} grew by %v, want %d", got-before, counts["v2"])
	}

	infos := p.Listeners()
	if len(infos) != 1 || infos[0].ServicePort != 8080 || infos[0].Service != "ns/mesh~default~bookstore~8080" ||
		len(infos[0].VIPs) != 1 || infos[0].VIPs[0] != netip.MustParseAddr("198.19.0.10") || infos[0].Port == 0 {
		t.Errorf("listener info = %+v, want one listener with VIP 198.19.0.10, servicePort 8080 and a bound port", infos)
	}
}

func TestStatusSemantics(t *testing.T) {
	ads := startADS(t)
	v1 := startEcho(t, "v1")
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			&routev3.Route{Name: "half-invalid", Match: prefix("/half"),
				Action: &routev3.Route_Route{Route: weighted(wc{"v1", 1}, wc{"invalid~BackendNotFound~1", 1})}},
			&routev3.Route{Name: "all-invalid", Match: prefix("/all-invalid"),
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 500}}},
			&routev3.Route{Name: "empty", Match: prefix("/empty"), Action: toCluster("empty")},
			&routev3.Route{Name: "unknown-503", Match: prefix("/unknown"), Action: toCluster("nope")},
		),
		cluster(t, "v1", false), cluster(t, "empty", false),
		cla(t, "v1", hostPort(t, v1.URL)), cla(t, "empty"),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/empty"); return r.StatusCode == 503 })

	codes := map[int]int{}
	for range 400 {
		r, _ := get(t, base+"/half")
		codes[r.StatusCode]++
	}
	if codes[200]+codes[500] != 400 || codes[200] < 140 || codes[500] < 140 {
		t.Errorf("half-invalid codes %v, want about 200×200 and 200×500", codes)
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/all-invalid", 500},
		{"/empty", 503},
		{"/unknown", 503},
		{"/nothing-matches", 404},
	} {
		if r, _ := get(t, base+tc.path); r.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, r.StatusCode, tc.want)
		}
	}
}

func TestMatching(t *testing.T) {
	ads := startADS(t)
	v1 := startEcho(t, "v1")
	re := func(s string) *matcherv3.RegexMatcher { return &matcherv3.RegexMatcher{Regex: s} }
	route := func(name string, m *routev3.RouteMatch) *routev3.Route {
		return &routev3.Route{Name: name, Match: m, Action: toCluster("v1")}
	}
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			route("exact", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/exact"}}),
			route("regex", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: re(`/re/[0-9]+`)}}),
			route("sep", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/sep"}}),
			route("header-exact", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/h"},
				Headers: []*routev3.HeaderMatcher{{Name: "version", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "v2"}}}}}}),
			route("header-regex", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/h"},
				Headers: []*routev3.HeaderMatcher{{Name: "version", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: re(`v[3-9]`)}}}}),
			route("header-present", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/h"},
				Headers: []*routev3.HeaderMatcher{{Name: "x-canary", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}}),
			route("query", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/q"},
				QueryParameters: []*routev3.QueryParameterMatcher{{Name: "user", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "alice"}}}}}}),
			route("query-regex", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/q"},
				QueryParameters: []*routev3.QueryParameterMatcher{{Name: "user", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: re(`b.*`)}}}}}}),
			route("method", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
				Headers: []*routev3.HeaderMatcher{{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "POST"}}}}}}),
			&routev3.Route{Name: "fallback", Match: prefix("/"), Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 418}}},
		),
		cluster(t, "v1", false), cla(t, "v1", hostPort(t, v1.URL)),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/exact"); return r.StatusCode == 200 })

	for _, tc := range []struct {
		method, path string
		header       map[string]string
		want         string
	}{
		{"GET", "/exact", nil, "exact"},
		{"GET", "/exact?x=1", nil, "exact"},
		{"GET", "/exact/more", nil, "fallback"},
		{"GET", "/re/123", nil, "regex"},
		{"GET", "/re/12a", nil, "fallback"},
		{"GET", "/sep", nil, "sep"},
		{"GET", "/sep/x", nil, "sep"},
		{"GET", "/separate", nil, "fallback"},
		{"GET", "/h", nil, "fallback"},
		{"GET", "/h", map[string]string{"Version": "v2"}, "header-exact"},
		{"GET", "/h", map[string]string{"Version": "v5"}, "header-regex"},
		{"GET", "/h", map[string]string{"Version": "v22"}, "fallback"},
		{"GET", "/h", map[string]string{"X-Canary": ""}, "header-present"},
		{"GET", "/q?user=alice", nil, "query"},
		{"GET", "/q?user=bob", nil, "query-regex"},
		{"GET", "/q?user=carol", nil, "fallback"},
		{"POST", "/anything", nil, "method"},
		{"PUT", "/anything", nil, "fallback"},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			before := p.metric(t, "gammaproof_proxy_requests_total", map[string]string{"route": tc.want})
			do(t, http.DefaultClient, req)
			if got := p.metric(t, "gammaproof_proxy_requests_total", map[string]string{"route": tc.want}); got != before+1 {
				t.Errorf("route %q count went %v -> %v, want +1", tc.want, before, got)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	ads := startADS(t)
	redirect := func(name, pfx string, r *routev3.RedirectAction) *routev3.Route {
		return &routev3.Route{Name: name, Match: prefix(pfx), Action: &routev3.Route_Redirect{Redirect: r}}
	}
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			redirect("scheme", "/scheme", &routev3.RedirectAction{SchemeRewriteSpecifier: &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: "https"}}),
			redirect("host", "/host", &routev3.RedirectAction{HostRedirect: "example.org", ResponseCode: routev3.RedirectAction_FOUND}),
			redirect("port", "/port", &routev3.RedirectAction{PortRedirect: 8443}),
			redirect("path", "/path", &routev3.RedirectAction{PathRewriteSpecifier: &routev3.RedirectAction_PathRedirect{PathRedirect: "/new"}, ResponseCode: routev3.RedirectAction_TEMPORARY_REDIRECT}),
			redirect("prefix", "/prefix", &routev3.RedirectAction{PathRewriteSpecifier: &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: "/replaced"}, ResponseCode: routev3.RedirectAction_PERMANENT_REDIRECT}),
			redirect("regex", "/regex", &routev3.RedirectAction{PathRewriteSpecifier: &routev3.RedirectAction_RegexRewrite{RegexRewrite: &matcherv3.RegexMatchAndSubstitute{
				Pattern: &matcherv3.RegexMatcher{Regex: "^/regex/*"}, Substitution: "/"}}}),
		),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	eventually(t, "routes served", func() bool {
		r, err := noFollow.Get(base + "/scheme")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 301
	})
	for _, tc := range []struct {
		path     string
		code     int
		location string
	}{
		{"/scheme/a?q=1", 301, "https://gpt.example/scheme/a?q=1"},
		{"/host/a", 302, "http://example.org:8080/host/a"},
		{"/port/a", 301, "http://gpt.example:8443/port/a"},
		{"/path/a?x=y", 307, "http://gpt.example:8080/new?x=y"},
		{"/prefix/a/b", 308, "http://gpt.example:8080/replaced/a/b"},
		{"/regex/a/b", 301, "http://gpt.example:8080/a/b"},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		req.Host = "gpt.example:8080"
		resp, _ := do(t, noFollow, req)
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
	}
}

func TestRewritesAndHeaders(t *testing.T) {
	ads := startADS(t)
	v1 := startEcho(t, "v1")
	fwd := func(a *routev3.RouteAction) *routev3.Route_Route {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "v1"}
		return &routev3.Route_Route{Route: a}
	}
	wcAction := weighted(wc{"v1", 1})
	wcAction.GetWeightedClusters().GetClusters()[0].RequestHeadersToAdd = []*corev3.HeaderValueOption{hdr("x-backend-level", "yes", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)}
	wcAction.GetWeightedClusters().GetClusters()[0].RequestHeadersToRemove = []string{"x-drop-at-backend"}
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			&routev3.Route{Name: "prefix", Match: prefix("/old"), Action: fwd(&routev3.RouteAction{PrefixRewrite: "/new"})},
			&routev3.Route{Name: "regex", Match: prefix("/full"), Action: fwd(&routev3.RouteAction{
				RegexRewrite: &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: `^/.*$`}, Substitution: "/replaced"}})},
			&routev3.Route{Name: "capture", Match: prefix("/cap"), Action: fwd(&routev3.RouteAction{
				RegexRewrite: &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: `^/cap/([a-z]+)$`}, Substitution: `/got/\1`}})},
			&routev3.Route{Name: "host", Match: prefix("/host"), Action: fwd(&routev3.RouteAction{
				HostRewriteSpecifier: &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: "rewritten.example"}})},
			&routev3.Route{Name: "headers", Match: prefix("/headers"), Action: &routev3.Route_Route{Route: wcAction},
				RequestHeadersToAdd: []*corev3.HeaderValueOption{
					hdr("x-added", "a", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD),
					hdr("x-set", "s", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
				},
				RequestHeadersToRemove: []string{"x-remove"},
				ResponseHeadersToAdd: []*corev3.HeaderValueOption{
					hdr("x-resp-added", "r", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD),
					hdr("x-backend", "overwritten", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
				},
				ResponseHeadersToRemove: []string{"content-type"},
			},
		),
		cluster(t, "v1", false), cla(t, "v1", hostPort(t, v1.URL)),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/old"); return r.StatusCode == 200 })

	for _, tc := range []struct{ path, wantPath, wantQuery string }{
		{"/old/x?a=b", "/new/x", "a=b"},
		{"/full/anything/here", "/replaced", ""},
		{"/cap/abc", "/got/abc", ""},
	} {
		if _, e := get(t, base+tc.path); e.Path != tc.wantPath || e.Query != tc.wantQuery {
			t.Errorf("GET %s reached %q?%q, want %q?%q", tc.path, e.Path, e.Query, tc.wantPath, tc.wantQuery)
		}
	}
	if _, e := get(t, base+"/host"); e.Host != "rewritten.example" {
		t.Errorf("host rewrite: upstream saw Host %q, want rewritten.example", e.Host)
	}

	req, _ := http.NewRequest("GET", base+"/headers", nil)
	req.Header.Set("X-Added", "orig")
	req.Header.Set("X-Set", "orig")
	req.Header.Set("X-Remove", "bye")
	req.Header.Set("X-Drop-At-Backend", "bye")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"X-Added":["orig","a"]`, `"X-Set":["s"]`, `"X-Backend-Level":["yes"]`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("upstream request headers %s lack %s", body, want)
		}
	}
	for _, gone := range []string{"X-Remove", "X-Drop-At-Backend"} {
		if strings.Contains(string(body), gone) {
			t.Errorf("upstream request headers %s still have %s", body, gone)
		}
	}
	if resp.Header.Get("X-Resp-Added") != "r" || resp.Header.Get("X-Backend") != "overwritten" || resp.Header.Get("Content-Type") != "" {
		t.Errorf("response headers %v: want X-Resp-Added=r, X-Backend=overwritten, no Content-Type", resp.Header)
	}
}

func TestTimeoutAndRetries(t *testing.T) {
	ads := startADS(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	var calls atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1)%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(flaky.Close)
	// A closed port: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	good := startEcho(t, "good")

	retry := func(on string, n uint32, perTry time.Duration) *routev3.RetryPolicy {
		rp := &routev3.RetryPolicy{RetryOn: on, NumRetries: wrapperspb.UInt32(n)}
		if perTry > 0 {
			rp.PerTryTimeout = durationpb.New(perTry)
		}
		return rp
	}
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			&routev3.Route{Name: "timeout", Match: prefix("/slow"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "slow"}, Timeout: durationpb.New(100 * time.Millisecond)}}},
			&routev3.Route{Name: "per-try", Match: prefix("/pertry"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "slow"}, RetryPolicy: retry("5xx", 2, 50*time.Millisecond)}}},
			&routev3.Route{Name: "flaky", Match: prefix("/flaky"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "flaky"}, RetryPolicy: retry("gateway-error", 2, 0)}}},
			&routev3.Route{Name: "no-retry", Match: prefix("/noretry"), Action: toCluster("flaky")},
			&routev3.Route{Name: "connect", Match: prefix("/connect"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "half-dead"}, RetryPolicy: retry("connect-failure", 1, 0)}}},
		),
		cluster(t, "slow", false), cla(t, "slow", hostPort(t, slow.URL)),
		cluster(t, "flaky", false), cla(t, "flaky", hostPort(t, flaky.URL)),
		cluster(t, "half-dead", false), cla(t, "half-dead", dead, hostPort(t, good.URL)),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/connect"); return r.StatusCode == 200 })

	start := time.Now()
	if r, _ := get(t, base+"/slow"); r.StatusCode != 504 {
		t.Errorf("route timeout: status %d, want 504", r.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("route timeout took %v, want about 100ms", d)
	}
	start = time.Now()
	if r, _ := get(t, base+"/pertry"); r.StatusCode != 504 {
		t.Errorf("per-try timeout: status %d, want 504", r.StatusCode)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("3 tries of 50ms took %v, want 150ms..1s", d)
	}
	for i := range 10 {
		resp, err := http.Post(base+"/flaky", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "payload" {
			t.Errorf("flaky request %d: %d %q, want 200 \"payload\" after retries", i, resp.StatusCode, body)
		}
	}
	failed := 0
	for range 9 {
		if r, _ := get(t, base+"/noretry"); r.StatusCode == 503 {
			failed++
		}
	}
	if failed != 6 {
		t.Errorf("without retries %d of 9 flaky requests failed, want 6", failed)
	}
	for i := range 10 {
		if r, e := get(t, base+"/connect"); r.StatusCode != 200 || e.Backend != "good" {
			t.Errorf("connect-failure retry %d: %d from %q, want 200 from good", i, r.StatusCode, e.Backend)
		}
	}
}

func TestMirror(t *testing.T) {
	ads := startADS(t)
	v1 := startEcho(t, "v1")
	mirrored := make(chan *http.Request, 1000)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mirrored <- r
	}))
	t.Cleanup(mirror.Close)
	ads.set(t,
		listener(t, "l"),
		routeConfig("l",
			&routev3.Route{Name: "half", Match: prefix("/half"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "v1"},
				RequestMirrorPolicies: []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "mirror", RuntimeFraction: &corev3.RuntimeFractionalPercent{
					DefaultValue: &typev3.FractionalPercent{Numerator: 50, Denominator: typev3.FractionalPercent_HUNDRED}}}},
			}}},
			&routev3.Route{Name: "m", Match: prefix("/"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier:      &routev3.RouteAction_Cluster{Cluster: "v1"},
				RequestMirrorPolicies: []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "mirror"}},
			}}}),
		cluster(t, "v1", false), cla(t, "v1", hostPort(t, v1.URL)),
		cluster(t, "mirror", false), cla(t, "mirror", hostPort(t, mirror.URL)),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "routes served", func() bool { r, _ := get(t, base+"/warm"); return r.StatusCode == 200 })
	<-mirrored
	req, _ := http.NewRequest("GET", base+"/mirrored?x=1", nil)
	req.Host = "svc.example"
	if r, e := do(t, http.DefaultClient, req); r.StatusCode != 200 || e.Backend != "v1" {
		t.Fatalf("mirrored request: %d from %q, want 200 from v1", r.StatusCode, e.Backend)
	}
	select {
	case r := <-mirrored:
		if r.URL.RequestURI() != "/mirrored?x=1" || r.Host != "svc.example-shadow" {
			t.Errorf("mirror saw %s host %q, want /mirrored?x=1 host svc.example-shadow", r.URL.RequestURI(), r.Host)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("mirror cluster got no copy of the request")
	}
	// A 50% mirror copies about half of the requests.
	for range 400 {
		get(t, base+"/half")
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(mirrored); n < 140 || n > 260 {
		t.Errorf("50%% mirror copied %d of 400 requests, want about 200", n)
	}
}

func TestGRPCOverH2C(t *testing.T) {
	ads := startADS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("bookstore", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	ads.set(t,
		listener(t, "grpc"),
		routeConfig("grpc", &routev3.Route{Name: "grpc", Match: prefix("/"), Action: toCluster("grpc-backend")}),
		cluster(t, "grpc-backend", true), cla(t, "grpc-backend", ln.Addr().String()),
	)
	p := startProxy(t, ads.addr)
	base := p.url(t, "grpc")
	conn, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	var resp *healthpb.HealthCheckResponse
	eventually(t, "grpc health check through the proxy succeeds", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "bookstore"})
		return err == nil
	})
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health status %v, want SERVING", resp.GetStatus())
	}
	// A gRPC error travels in trailers only.
	_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "unknown"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: %v, want code NotFound (from trailers)", err)
	}
	// Server streaming keeps working through the proxy.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "bookstore"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch first message %v, %v; want SERVING", m, err)
	}
	hs.SetServingStatus("bookstore", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := stream.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch second message %v, %v; want NOT_SERVING", m, err)
	}
}

func TestNACKKeepsServing(t *testing.T) {
	ads := startADS(t)
	v1, v2 := startEcho(t, "v1"), startEcho(t, "v2")
	good := []any{cluster(t, "v1", false), cluster(t, "v2", false), cla(t, "v1", hostPort(t, v1.URL)), cla(t, "v2", hostPort(t, v2.URL)), listener(t, "l")}
	set := func(r *routev3.Route) string {
		res := append([]any{}, good...)
		res = append(res, routeConfig("l", r))
		var rs []typesResource
		for _, x := range res {
			rs = append(rs, x.(typesResource))
		}
		return ads.set(t, rs...)
	}
	set(&routev3.Route{Name: "r", Match: prefix("/"), Action: toCluster("v1")})
	p := startProxy(t, ads.addr)
	base := p.url(t, "l")
	eventually(t, "v1 served", func() bool { _, e := get(t, base+"/"); return e.Backend == "v1" })

	bad := []*routev3.Route{
		{Name: "r", Match: prefix("/"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "v2"},
			HashPolicy:       []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: "x"}}}},
		}}},
		{Name: "r", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Grpc: &routev3.RouteMatch_GrpcRouteMatchOptions{}}, Action: toCluster("v2")},
		{Name: "r", Match: prefix("/"), Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "v2"}, RetryPolicy: &routev3.RetryPolicy{RetryOn: "retriable-4xx"}}}},
	}
	for i, r := range bad {
		before := p.metric(t, "gammaproof_proxy_xds_nacks_total", map[string]string{"type": "rds"})
		set(r)
		eventually(t, "the bad route configuration is NACKed", func() bool {
			return p.metric(t, "gammaproof_proxy_xds_nacks_total", map[string]string{"type": "rds"}) > before
		})
		for range 20 {
			if r, e := get(t, base+"/"); r.StatusCode != 200 || e.Backend != "v1" {
				t.Fatalf("bad config %d: got %d from %q, want the old config (200 from v1)", i, r.StatusCode, e.Backend)
			}
		}
	}
	// Each bad version was NACKed with the last good version and a reason
	// naming the field, and the proxy did not loop on go-control-plane's
	// immediate re-send (at most one extra NACK per bad version).
	nacks := ads.nacksSeen()
	if len(nacks) < len(bad) || len(nacks) > 2*len(bad) {
		t.Errorf("server saw %d NACKs for %d bad versions, want %d..%d: %+v", len(nacks), len(bad), len(bad), 2*len(bad), nacks)
	}
	for i, want := range []string{"route.hash_policy", "match.grpc", `retry_on: condition "retriable-4xx"`} {
		found := false
		for _, n := range nacks {
			found = found || (strings.Contains(n.message, want) && n.typeURL == resourcev3.RouteType && n.nonce != "")
		}
		if !found {
			t.Errorf("bad config %d: no RDS NACK with a nonce naming %q in %+v", i, want, nacks)
		}
	}
	if len(nacks) > 0 && nacks[0].version != "1" {
		t.Errorf("first NACK carries version %q, want the last accepted version 1", nacks[0].version)
	}
	if got := p.metric(t, "gammaproof_proxy_xds_config_info", map[string]string{"type": "rds", "version": "1"}); got != 1 {
		t.Errorf("applied rds version metric for version 1 = %v, want 1", got)
	}
	// A good config after NACKs is applied.
	set(&routev3.Route{Name: "r", Match: prefix("/"), Action: toCluster("v2")})
	eventually(t, "v2 served after a good update", func() bool { _, e := get(t, base+"/"); return e.Backend == "v2" })
}

func TestControllerGoneKeepsServing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ads := serveADS(t, ln, newCache())
	v1, v2 := startEcho(t, "v1"), startEcho(t, "v2")
	ads.set(t, listener(t, "l"), routeConfig("l", &routev3.Route{Name: "r", Match: prefix("/"), Action: toCluster("v1")}),
		cluster(t, "v1", false), cla(t, "v1", hostPort(t, v1.URL)))
	p := startProxy(t, addr)
	base := p.url(t, "l")
	eventually(t, "v1 served", func() bool { r, _ := get(t, base+"/"); return r.StatusCode == 200 })

	ads.grpc.Stop()
	eventually(t, "the proxy notices the controller is gone", func() bool {
		return p.metric(t, "gammaproof_proxy_xds_connected", nil) == 0
	})
	for range 50 {
		if r, e := get(t, base+"/"); r.StatusCode != 200 || e.Backend != "v1" {
			t.Fatalf("controller gone: %d from %q, want 200 from v1", r.StatusCode, e.Backend)
		}
	}
	// A new controller on the same address (fresh cache, versions restart)
	// is picked up.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relisten on %s: %v", addr, err)
	}
	ads2 := serveADS(t, ln2, newCache())
	ads2.set(t, listener(t, "l"), routeConfig("l", &routev3.Route{Name: "r", Match: prefix("/"), Action: toCluster("v2")}),
		cluster(t, "v2", false), cla(t, "v2", hostPort(t, v2.URL)))
	eventually(t, "v2 served by the restarted controller's config", func() bool { _, e := get(t, base+"/"); return e.Backend == "v2" })
}

func TestListenerUpdateKeepsInFlight(t *testing.T) {
	ads := startADS(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	common := func(extra ...typesResource) {
		rs := []typesResource{
			listener(t, "a"), routeConfig("a", &routev3.Route{Name: "a", Match: prefix("/"), Action: toCluster("slow")}),
			cluster(t, "slow", false), cla(t, "slow", hostPort(t, slow.URL)),
		}
		ads.set(t, append(rs, extra...)...)
	}
	common(listener(t, "gone"), routeConfig("gone", &routev3.Route{Name: "g", Match: prefix("/"), Action: toCluster("slow")}))
	var cbMu sync.Mutex
	var calls [][]ListenerInfo
	p := startProxyWith(t, ads.addr, func(ls []ListenerInfo) {
		cbMu.Lock()
		calls = append(calls, ls)
		cbMu.Unlock()
	})
	a, gone := p.url(t, "a"), p.url(t, "gone")
	portA := p.Listeners()[0].Port

	var wg sync.WaitGroup
	results := make(chan string, 2)
	for _, u := range []string{a, gone} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(u + "/")
			if err != nil {
				results <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- string(body)
		}()
	}
	time.Sleep(200 * time.Millisecond) // both requests are now in flight
	common(listener(t, "b"), routeConfig("b", &routev3.Route{Name: "b", Match: prefix("/"), Action: toCluster("slow")}))
	p.url(t, "b")
	eventually(t, "listener gone is removed", func() bool { return len(p.Listeners()) == 2 })
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "done" {
			t.Errorf("in-flight request got %q, want done", r)
		}
	}
	if l := p.Listeners(); l[0].Name != "a" || l[0].Port != portA {
		t.Errorf("listener a = %+v, want unchanged port %d", l[0], portA)
	}
	if r, err := http.Get(a + "/"); err != nil || r.StatusCode != 200 {
		t.Errorf("listener a after update: %v %v", r, err)
	}
	cbMu.Lock()
	defer cbMu.Unlock()
	names := func(ls []ListenerInfo) string {
		var n []string
		for _, l := range ls {
			n = append(n, l.Name)
		}
		return strings.Join(n, ",")
	}
	if len(calls) == 0 || names(calls[len(calls)-1]) != "a,b" {
		t.Errorf("OnListeners calls %v, want the last one with a,b", calls)
	}
	for _, c := range calls {
		for _, l := range c {
			if l.Port == 0 || l.ServicePort != 8080 {
				t.Errorf("OnListeners reported %+v, want a bound port and servicePort 8080", l)
			}
		}
	}
}

func TestListenerPortsMove(t *testing.T) {
	ads := startADS(t)
	v1 := startEcho(t, "v1")
	var ports []uint32
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, uint32(ln.Addr().(*net.TCPAddr).Port))
		ln.Close()
	}
	on := func(name string, port uint32) []typesResource {
		l := listener(t, name)
		l.GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: port}
		return []typesResource{l, routeConfig(name, &routev3.Route{Name: name, Match: prefix("/"), Action: toCluster("v1")})}
	}
	set := func(x, y uint32) string {
		rs := append(on("x", x), on("y", y)...)
		return ads.set(t, append(rs, cluster(t, "v1", false), cla(t, "v1", hostPort(t, v1.URL)))...)
	}
	set(ports[0], ports[1])
	p := startProxy(t, ads.addr)
	p.url(t, "y")
	// x takes y's port while y moves on: one update, no NACK.
	v := set(ports[1], ports[2])
	eventually(t, "the port move is applied", func() bool {
		return p.metric(t, "gammaproof_proxy_xds_config_info", map[string]string{"type": "lds", "version": v}) == 1
	})
	got := map[string]uint32{}
	for _, l := range p.Listeners() {
		got[l.Name] = l.Port
	}
	if got["x"] != ports[1] || got["y"] != ports[2] {
		t.Fatalf("listener ports %v, want x=%d y=%d", got, ports[1], ports[2])
	}
	for _, port := range ports[1:] {
		if r, e := get(t, "http://127.0.0.1:"+strconv.Itoa(int(port))+"/"); r.StatusCode != 200 || e.Backend != "v1" {
			t.Errorf("port %d after the move: %d from %q, want 200 from v1", port, r.StatusCode, e.Backend)
		}
	}
	if n := p.metric(t, "gammaproof_proxy_xds_nacks_total", nil); n != 0 {
		t.Errorf("%v NACKs, want 0", n)
	}
}
