package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
	"github.com/gammaproof/gammaproof/impl/proxy/config"
	"github.com/gammaproof/gammaproof/impl/xds"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/repo"
)

// The resource kinds FuzzDecode unmarshals its bytes into, by kind%4.
const (
	kindListener = iota
	kindRoutes
	kindCluster
	kindEndpoints
	numKinds
)

// FuzzDecode unmarshals arbitrary bytes into a Listener,
// RouteConfiguration, Cluster or ClusterLoadAssignment, as the ADS stream
// delivers them, and parses it as the proxy does. The parser must never
// panic; it either rejects the resource with an error or returns a config
// that holds the invariants in checkListener, checkTable, checkCluster and
// checkEndpoints, and that the proxy can use on any request without
// panicking. Seeds: the resources of the xDS golden snapshot and of every
// model test input and scenario, translated.
//
//	go test ./impl/proxy/config -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, res := range seedResources(f) {
		b, err := proto.Marshal(res)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kindOf(f, res), b)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		msg := newResource(kind)
		if err := proto.Unmarshal(data, msg); err != nil {
			return // not a resource of this kind: the ADS client drops it.
		}
		checkDecode(t, msg)
	})
}

// FuzzTranslatedDecodes feeds Kubernetes objects (YAML documents, unknown
// kinds skipped) through model.Build and xds.Translate, as the controller
// does, and parses every resource as the proxy does. Translate must not
// fail on anything Build returns, every resource must pass xds.Validate
// (ValidateAll, also inside Anys), and the proxy must accept all of them:
// the controller never publishes a snapshot the proxy rejects.
//
//	go test ./impl/proxy/config -run '^$' -fuzz FuzzTranslatedDecodes -fuzztime 60s
func FuzzTranslatedDecodes(f *testing.F) {
	for _, b := range seedManifests(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, docs []byte, strict bool) {
		in := decodeObjects(docs)
		if strict {
			in.GrantPolicy = grantpolicy.Strict
		}
		s, err := xds.Translate(model.Build(in))
		if err != nil {
			t.Fatalf("Translate(Build(input)): %v", err)
		}
		for _, res := range snapshotResources(s) {
			if err := xds.Validate(res); err != nil {
				t.Fatalf("Translate returned a resource that does not validate: %v", err)
			}
			if err := checkDecode(t, res); err != nil {
				t.Fatalf("the proxy rejects a resource the controller publishes: %v", err)
			}
		}
	})
}

func newResource(kind uint8) proto.Message {
	switch kind % numKinds {
	case kindListener:
		return &listenerv3.Listener{}
	case kindRoutes:
		return &routev3.RouteConfiguration{}
	case kindCluster:
		return &clusterv3.Cluster{}
	default:
		return &endpointv3.ClusterLoadAssignment{}
	}
}

func kindOf(tb testing.TB, m proto.Message) uint8 {
	switch m.(type) {
	case *listenerv3.Listener:
		return kindListener
	case *routev3.RouteConfiguration:
		return kindRoutes
	case *clusterv3.Cluster:
		return kindCluster
	case *endpointv3.ClusterLoadAssignment:
		return kindEndpoints
	}
	tb.Fatalf("resource of type %T", m)
	return 0
}

// checkDecode parses msg with the proxy's parser and, when it is accepted,
// checks the result. It returns the parser's error.
func checkDecode(t *testing.T, msg proto.Message) error {
	t.Helper()
	var err error
	switch m := msg.(type) {
	case *listenerv3.Listener:
		err = parseAndCheck(t, m, config.ParseListener, checkListener)
	case *routev3.RouteConfiguration:
		err = parseAndCheck(t, m, config.ParseRouteConfiguration, checkTable)
	case *clusterv3.Cluster:
		err = parseAndCheck(t, m, config.ParseCluster, checkCluster)
	case *endpointv3.ClusterLoadAssignment:
		err = parseAndCheck(t, m, config.ParseEndpoints, checkEndpoints)
	default:
		t.Fatalf("resource of type %T", msg)
	}
	if err != nil && err.Error() == "" {
		t.Fatalf("%T rejected with an empty error", msg)
	}
	return err
}

// parseAndCheck parses m with parse and, when parse accepts it, checks the
// result with check. It returns parse's error.
func parseAndCheck[M proto.Message, T any](t *testing.T, m M, parse func(M) (T, error), check func(*testing.T, T)) error {
	t.Helper()
	v, err := parse(m)
	if err == nil {
		check(t, v)
	}
	return err
}

func checkListener(t *testing.T, l *config.Listener) {
	t.Helper()
	if l.Name == "" {
		t.Errorf("listener accepted without a name")
	}
	if _, err := netip.ParseAddr(l.Host); err != nil {
		t.Errorf("listener %q: host %q is not an IP address", l.Name, l.Host)
	}
	if l.Port > 65535 {
		t.Errorf("listener %q: port %d", l.Name, l.Port)
	}
	if (l.RouteName == "") == (l.Routes == nil) {
		t.Errorf("listener %q: want exactly one of RDS name (%q) and inline routes (%v)", l.Name, l.RouteName, l.Routes != nil)
	}
	if l.Routes != nil {
		checkTable(t, l.Routes)
	}
	if l.Steering.ServicePort > 65535 {
		t.Errorf("listener %q: steering service port %d", l.Name, l.Steering.ServicePort)
	}
	for _, v := range l.Steering.VIPs {
		if !v.IsValid() {
			t.Errorf("listener %q: steering VIP %v is not valid", l.Name, v)
		}
	}
}

// probes are requests every accepted route table must handle without
// panicking: lookups, matches, rewrites, redirects and header changes.
var probes = []struct{ method, target, host string }{
	{"GET", "/", "bookstore"},
	{"POST", "/books/1?x=1&y=", "bookstore.ns.svc.cluster.local:8080"},
	{"GET", "/a%2Fb/c", "198.19.0.10:80"},
	{"OPTIONS", "/a%20b/", "[fd00::1]:443"},
	{"GET", "//x", ""},
}

func checkTable(t *testing.T, rt *config.RouteTable) {
	t.Helper()
	for i, vh := range rt.VirtualHosts {
		if len(vh.Domains) == 0 {
			t.Errorf("route table %q: virtual host %d has no domains", rt.Name, i)
		}
		for j, r := range vh.Routes {
			checkRoute(t, fmt.Sprintf("route table %q: virtual host %d route %d", rt.Name, i, j), r)
		}
	}
	// Every domain finds a virtual host (the first listing it, or one
	// listing it in another case).
	for _, vh := range rt.VirtualHosts {
		for _, d := range vh.Domains {
			if rt.VirtualHost(d) == nil {
				t.Errorf("route table %q: domain %q finds no virtual host", rt.Name, d)
			}
		}
	}
	for _, p := range probes {
		req := httptest.NewRequest(p.method, "http://x"+p.target, nil)
		req.Host = p.host
		vh := rt.VirtualHost(p.host)
		r := vh.Route(req)
		if r == nil {
			continue
		}
		h := req.Header.Clone()
		r.RequestHeaders.Apply(h)
		r.ResponseHeaders.Apply(h)
		switch {
		case r.Forward != nil:
			r.Forward.RewritePath(&r.Match, req.URL.EscapedPath())
			for i := range r.Forward.Backends {
				r.Forward.Backends[i].RequestHeaders.Apply(h)
			}
			r.Forward.Retry.Applies(req)
		case r.Redirect != nil:
			loc := r.Redirect.Location(&r.Match, req)
			if !strings.Contains(loc, "://") {
				t.Errorf("route %q: redirect location %q has no scheme", r.Name, loc)
			}
		}
	}
}

func checkRoute(t *testing.T, where string, r *xdscontract.Route) {
	t.Helper()
	actions := 0
	for _, set := range []bool{r.Forward != nil, r.Redirect != nil, r.Direct != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		t.Errorf("%s: %d actions, want exactly one of forward, redirect and direct response", where, actions)
	}
	checkMatch(t, where, &r.Match)
	if f := r.Forward; f != nil {
		var sum uint64
		for _, b := range f.Backends {
			if b.Cluster == "" {
				t.Errorf("%s: backend without a cluster", where)
			}
			sum += uint64(b.Weight)
		}
		if sum == 0 || sum != f.TotalWeight {
			t.Errorf("%s: weights sum to %d, TotalWeight %d (want equal and > 0)", where, sum, f.TotalWeight)
		} else {
			for _, n := range []uint64{0, sum / 2, sum - 1} {
				if b := f.Pick(n); b == nil || b.Weight == 0 {
					t.Errorf("%s: Pick(%d) of %d = %+v", where, n, sum, b)
				}
			}
			if b := f.Pick(sum); b != nil {
				t.Errorf("%s: Pick(TotalWeight) = %+v, want nil", where, b)
			}
		}
		switch f.NotFoundStatus {
		case 404, 500, 503:
		default:
			t.Errorf("%s: cluster-not-found status %d", where, f.NotFoundStatus)
		}
		if f.Timeout < 0 {
			t.Errorf("%s: negative timeout %v", where, f.Timeout)
		}
		if f.PrefixRewrite != "" && f.RegexRewrite != nil {
			t.Errorf("%s: both prefix and regex rewrite", where)
		}
		for _, m := range f.Mirrors {
			if m.Cluster == "" || m.PerMillion > 1_000_000 {
				t.Errorf("%s: mirror %+v", where, m)
			}
		}
		if f.Retry != nil {
			for _, c := range f.Retry.StatusCodes {
				if c < 100 || c > 599 {
					t.Errorf("%s: retry status code %d", where, c)
				}
			}
		}
	}
	if rd := r.Redirect; rd != nil {
		switch rd.Status {
		case 301, 302, 303, 307, 308:
		default:
			t.Errorf("%s: redirect status %d", where, rd.Status)
		}
		if rd.Port > 65535 {
			t.Errorf("%s: redirect port %d", where, rd.Port)
		}
	}
	if d := r.Direct; d != nil && (d.Status < 200 || d.Status > 599) {
		t.Errorf("%s: direct response status %d", where, d.Status)
	}
	// What the proxy accepts, the controller's encoder writes back the same.
	enc, err := xdscontract.EncodeRoute(r)
	if err != nil {
		t.Errorf("%s: an accepted route does not encode: %v", where, err)
		return
	}
	b, err := proto.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	wire := &routev3.Route{}
	if err := proto.Unmarshal(b, wire); err != nil {
		t.Fatal(err)
	}
	back, err := xdscontract.DecodeRoute(wire, where)
	if err != nil {
		t.Errorf("%s: re-encoded route does not decode: %v", where, err)
	} else if !reflect.DeepEqual(back, r) {
		t.Errorf("%s: route changes on a round trip:\n got %+v\nwant %+v", where, back, r)
	}
}

// checkMatch checks that every regular expression the decoder accepted is
// valid RE2 by itself: the decoder anchors an expression as ^(?:expr)$, and
// an expression that compiles only inside that wrapper (such as "a)|(b")
// would not be anchored.
func checkMatch(t *testing.T, where string, m *xdscontract.Match) {
	t.Helper()
	regexOK := func(what, expr string, re *regexp.Regexp) {
		if re == nil {
			t.Errorf("%s: %s regex %q not compiled", where, what, expr)
			return
		}
		if _, err := regexp.Compile(expr); err != nil {
			t.Errorf("%s: %s regex %q accepted, but it is not valid RE2: %v", where, what, expr, err)
		}
	}
	if m.PathKind == xdscontract.PathRegex {
		regexOK("path", m.Path, m.Regex)
	}
	str := func(what string, s *xdscontract.StringMatch) {
		if s != nil && s.Kind == xdscontract.StringRegex {
			regexOK(what, s.Value, s.Regex)
		}
	}
	for _, h := range m.Headers {
		str("header "+h.Name, h.String)
	}
	for _, q := range m.Query {
		str("query "+q.Name, q.String)
	}
}

func checkCluster(t *testing.T, c *config.Cluster) {
	t.Helper()
	if c.Name == "" || c.EDSName == "" {
		t.Errorf("cluster %+v: empty name or EDS name", c)
	}
	if c.ConnectTimeout < 0 {
		t.Errorf("cluster %q: negative connect timeout %v", c.Name, c.ConnectTimeout)
	}
}

func checkEndpoints(t *testing.T, e *config.Endpoints) {
	t.Helper()
	if e.Cluster == "" {
		t.Errorf("endpoints accepted without a cluster name")
	}
	for _, a := range e.Addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Errorf("endpoints %q: address %q: %v", e.Cluster, a, err)
			continue
		}
		if _, err := netip.ParseAddr(host); err != nil {
			t.Errorf("endpoints %q: address %q: host is not an IP", e.Cluster, a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Errorf("endpoints %q: address %q: port out of range", e.Cluster, a)
		}
	}
}

// seedResources returns the resources of the xDS golden snapshot and of
// the translated model test inputs, scenarios and a small scale input.
func seedResources(tb testing.TB) []proto.Message {
	tb.Helper()
	out := goldenResources(tb, filepath.Join("..", "..", "xds", "testdata", "consumer-listener.golden.json"))
	inputs := []model.Input{modeltest.ScaleInput(3)}
	for _, b := range seedManifests(tb) {
		inputs = append(inputs, decodeObjects(b))
	}
	for _, in := range inputs {
		s, err := xds.Translate(model.Build(in))
		if err != nil {
			tb.Fatalf("translate a seed input: %v", err)
		}
		out = append(out, snapshotResources(s)...)
	}
	return out
}

// goldenResources reads the resources of an xDS golden snapshot (protojson
// per resource, grouped by kind).
func goldenResources(tb testing.TB, path string) []proto.Message {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Resources map[string][]json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
	kinds := map[string]uint8{"listeners": kindListener, "routes": kindRoutes, "clusters": kindCluster, "endpoints": kindEndpoints}
	var out []proto.Message
	for k, items := range doc.Resources {
		kind, ok := kinds[k]
		if !ok {
			tb.Fatalf("%s: unknown resource group %q", path, k)
		}
		for _, it := range items {
			m := newResource(kind)
			if err := protojson.Unmarshal(it, m); err != nil {
				tb.Fatalf("%s: decode %s: %v", path, k, err)
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no resources", path)
	}
	return out
}

// seedManifests returns the model's test inputs, one per file, and every
// scenario's manifests, one input per scenario (its files joined).
func seedManifests(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, f := range modeltest.TestdataFiles(tb) {
		out = append(out, f.YAML)
	}
	dirs, err := filepath.Glob(filepath.Join(repo.Root(), "scenarios", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			tb.Fatal(err)
		}
		var all [][]byte
		for _, p := range files {
			if filepath.Base(p) == "expect.yaml" {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			all = append(all, b)
		}
		if len(all) > 0 {
			out = append(out, bytes.Join(all, []byte("\n---\n")))
		}
	}
	if len(dirs) == 0 {
		tb.Fatal("no seed manifests in scenarios/: they moved; point the fuzz seeds at them")
	}
	return out
}

func snapshotResources(s *xds.Snapshot) []proto.Message {
	var out []proto.Message
	for _, typ := range []types.ResponseType{types.Listener, types.Route, types.Cluster, types.Endpoint} {
		for _, r := range s.Resources.Resources[typ].Items {
			out = append(out, r.Resource)
		}
	}
	return out
}

// decodeObjects decodes the YAML documents of b that the model reads
// (Namespaces aside), leniently: a document that does not decode or has
// another kind is skipped, as the controller's informers never see it, and
// so is a Service whose ports the API server rejects. A Service without a clusterIP gets
// one, as from the API server.
func decodeObjects(b []byte) model.Input {
	var in model.Input
	for _, doc := range bytes.Split(b, []byte("\n---")) {
		var one model.Input
		if modeltest.AddDocument(&one, doc, false) != nil || len(one.Namespaces) > 0 {
			continue
		}
		for _, o := range one.Services {
			if !portsValid(o) {
				continue
			}
			if o.Spec.ClusterIP == "" { // as the API server allocates one.
				o.Spec.ClusterIP = fmt.Sprintf("198.19.%d.%d", len(in.Services)/250, 1+len(in.Services)%250)
			}
			in.Services = append(in.Services, o)
		}
		in.EndpointSlices = append(in.EndpointSlices, one.EndpointSlices...)
		in.HTTPRoutes = append(in.HTTPRoutes, one.HTTPRoutes...)
		in.GRPCRoutes = append(in.GRPCRoutes, one.GRPCRoutes...)
		in.ReferenceGrants = append(in.ReferenceGrants, one.ReferenceGrants...)
	}
	return in
}

// portsValid reports whether the API server would accept s's ports
// (1-65535); it rejects a Service with any other.
func portsValid(s corev1.Service) bool {
	for _, p := range s.Spec.Ports {
		if p.Port < 1 || p.Port > 65535 {
			return false
		}
	}
	return true
}

// TestFuzzSeedsTranslate checks that the seeds reach the parser: every
// seed resource is accepted (a seed corpus of rejected resources would
// fuzz only the error paths).
func TestFuzzSeedsTranslate(t *testing.T) {
	res := seedResources(t)
	counts := map[uint8]int{}
	for _, r := range res {
		if err := checkDecode(t, r); err != nil {
			t.Errorf("seed %T rejected: %v", r, err)
		}
		counts[kindOf(t, r)]++
	}
	for k := range uint8(numKinds) {
		if counts[k] == 0 {
			t.Errorf("no seed resource of kind %T", newResource(k))
		}
	}
}
