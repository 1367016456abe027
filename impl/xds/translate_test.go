package xds

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
	"github.com/gammaproof/gammaproof/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// goldenCase is a mesh whose translation testdata/<name>.golden.json and
// testdata/envoy/<name>.json pin.
type goldenCase struct {
	name string
	mesh func() *model.Mesh
}

var goldenCases = []goldenCase{
	{"split-90-10", meshSplit},
	{"consumer-listener", meshConsumer},
	{"header-match-modifiers", meshHeaders},
	{"redirect-rewrite", meshRedirect},
	{"invalid-and-weight-0", meshInvalid},
	{"grpc", meshGRPC},
	{"empty", func() *model.Mesh { return &model.Mesh{} }},
}

// goldenJSON renders a snapshot as stable, indented JSON. protojson output
// is deliberately not byte-stable, so it is re-indented by encoding/json.
func goldenJSON(t testing.TB, s *Snapshot) []byte {
	t.Helper()
	doc := struct {
		Version   string                       `json:"version"`
		Versions  map[string]string            `json:"versions"`
		Warnings  []string                     `json:"warnings"`
		Resources map[string][]json.RawMessage `json:"resources"`
	}{Version: s.Version, Versions: map[string]string{}, Warnings: append([]string{}, s.Warnings...), Resources: map[string][]json.RawMessage{}}
	opts := protojson.MarshalOptions{Multiline: true, Indent: "  "}
	for typ, key := range map[types.ResponseType]string{types.Cluster: "clusters", types.Endpoint: "endpoints", types.Listener: "listeners", types.Route: "routes"} {
		res := s.Resources.Resources[typ]
		doc.Versions[key] = res.Version
		names := make([]string, 0, len(res.Items))
		for n := range res.Items {
			names = append(names, n)
		}
		slices.Sort(names)
		doc.Resources[key] = []json.RawMessage{}
		for _, n := range names {
			b, err := opts.Marshal(res.Items[n].Resource)
			if err != nil {
				t.Fatalf("marshal %s: %v", n, err)
			}
			doc.Resources[key] = append(doc.Resources[key], b)
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatalf("marshal golden document: %v", err)
	}
	return append(out, '\n')
}

// allResources returns every resource of the snapshot.
func allResources(s *Snapshot) []types.Resource {
	var out []types.Resource
	for _, g := range s.Resources.Resources {
		for _, r := range g.Items {
			out = append(out, r.Resource)
		}
	}
	return out
}

// forGoldenCases runs check on the translation of each golden case's mesh,
// in a subtest named for the case.
func forGoldenCases(t *testing.T, check func(t *testing.T, tc goldenCase, s *Snapshot)) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Translate(tc.mesh())
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			check(t, tc, s)
		})
	}
}

func TestTranslateGolden(t *testing.T) {
	forGoldenCases(t, func(t *testing.T, tc goldenCase, s *Snapshot) {
		for _, r := range allResources(s) {
			if err := Validate(r); err != nil {
				t.Errorf("Validate: %v", err)
			}
		}
		if err := s.Resources.Consistent(); err != nil {
			t.Errorf("Consistent: %v", err)
		}
		if len(s.Warnings) != 0 {
			t.Errorf("warnings for a valid mesh: %q", s.Warnings)
		}
		// Deterministic: a second translation is identical.
		again, err := Translate(tc.mesh())
		if err != nil {
			t.Fatalf("Translate again: %v", err)
		}
		if again.Version != s.Version {
			t.Errorf("version not deterministic: %s then %s", s.Version, again.Version)
		}
		got := goldenJSON(t, s)
		if !bytes.Equal(got, goldenJSON(t, again)) {
			t.Errorf("output not deterministic")
		}
		golden.Compare(t, filepath.Join("testdata", tc.name+".golden.json"), got, *update)
	})
}

// normalizeJSON re-indents protojson output, which is deliberately not
// byte-stable.
func normalizeJSON(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(compact(t, raw)), "", "  "); err != nil {
		t.Fatalf("indent JSON: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func compact(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("compact JSON: %v", err)
	}
	return buf.Bytes()
}

// routesOf returns the routes of the one route configuration named name.
func routesOf(t *testing.T, s *Snapshot, name string) []*route.Route {
	t.Helper()
	r, ok := s.Resources.Resources[types.Route].Items[name]
	if !ok {
		t.Fatalf("no route configuration %q", name)
	}
	return r.Resource.(*route.RouteConfiguration).GetVirtualHosts()[0].GetRoutes()
}

// TestTranslateSemantics checks the contract's conventions directly (the
// golden files show them too, but a reviewer should not have to read JSON).
func TestTranslateSemantics(t *testing.T) {
	s, err := Translate(meshInvalid())
	if err != nil {
		t.Fatal(err)
	}
	rs := routesOf(t, s, "mesh~default~bookstore~8080")
	wc := rs[0].GetRoute().GetWeightedClusters().GetClusters()
	var got []string
	for _, c := range wc {
		got = append(got, c.GetName()+"="+strconv.Itoa(int(c.GetWeight().GetValue())))
	}
	if want := []string{"svc~default~bookstore-v1~8080~h1=50", "invalid~RefNotPermitted~1=50"}; !slices.Equal(got, want) {
		t.Errorf("weighted clusters = %v, want %v (invalid kept with its weight)", got, want)
	}
	if c := rs[0].GetRoute().GetClusterNotFoundResponseCode(); c != route.RouteAction_INTERNAL_SERVER_ERROR {
		t.Errorf("cluster_not_found_response_code = %v, want INTERNAL_SERVER_ERROR", c)
	}
	if _, ok := s.Resources.Resources[types.Cluster].Items["invalid~RefNotPermitted~1"]; ok {
		t.Errorf("invalid cluster is in the snapshot; its share would not get 500")
	}
	if st := rs[1].GetDirectResponse().GetStatus(); st != 500 {
		t.Errorf("all-invalid rule: direct_response status = %d, want 500", st)
	}
	if d := rs[0].GetRoute().GetTimeout(); d == nil || d.AsDuration() != 0 {
		t.Errorf("timeout = %v, want explicit 0s (Envoy's default would be 15s)", d)
	}

	// Ports: deterministic, in range, the same for any order of the input.
	m := meshConsumer()
	a, err := Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(m.Listeners)
	slices.Reverse(m.Clusters)
	b, err := Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != b.Version {
		t.Errorf("input order changed the version: %s vs %s", a.Version, b.Version)
	}
}

func TestTranslateVersions(t *testing.T) {
	base, err := Translate(meshSplit())
	if err != nil {
		t.Fatal(err)
	}
	m := meshSplit()
	m.Listeners[0].Routes[0].Backends[0].Weight = 50
	reweighted, err := Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	if reweighted.Version == base.Version {
		t.Fatalf("a weight change kept version %s", base.Version)
	}
	ver := func(s *Snapshot, typ types.ResponseType) string { return s.Resources.Resources[typ].Version }
	if ver(reweighted, types.Route) == ver(base, types.Route) {
		t.Errorf("route version unchanged after a weight change")
	}
	for _, typ := range []types.ResponseType{types.Cluster, types.Endpoint, types.Listener} {
		if ver(reweighted, typ) != ver(base, typ) {
			t.Errorf("type %d version changed though its resources did not", typ)
		}
	}
}

func TestTranslateDegrades(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(r *model.Route)
		wantNil  bool // the route is left out
		want500  bool // the route answers 500
		wantWarn string
	}{
		{"empty path regex", func(r *model.Route) { r.Match = model.Match{PathType: model.PathRegex} }, true, false, "left out"},
		{"bad header name", func(r *model.Route) {
			r.Match.Headers = []model.StringMatch{{Name: "bad header\n", Value: "v"}}
		}, true, false, "left out"},
		{"unknown path type", func(r *model.Route) { r.Match.PathType = "Glob" }, true, false, "left out"},
		{"bad redirect code", func(r *model.Route) { r.Redirect = &model.Redirect{StatusCode: 305} }, false, true, "answers 500"},
		{"bad modifier header", func(r *model.Route) {
			r.RequestHeaders.Set = []model.Header{{Name: "bad\x00name", Value: "v"}}
		}, false, true, "answers 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meshSplit()
			tc.mutate(&m.Listeners[0].Routes[0])
			s, err := Translate(m)
			if err != nil {
				t.Fatalf("Translate: %v (one bad route must not fail the mesh)", err)
			}
			for _, r := range allResources(s) {
				if err := Validate(r); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}
			rs := routesOf(t, s, "mesh~default~bookstore~8080")
			switch {
			case tc.wantNil:
				if len(rs) != 0 {
					t.Errorf("route kept: %v", rs[0])
				}
			case tc.want500:
				if len(rs) != 1 || rs[0].GetDirectResponse().GetStatus() != 500 {
					t.Errorf("routes = %v, want one direct_response 500", rs)
				}
			}
			if tc.wantWarn != "" && (len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tc.wantWarn)) {
				t.Errorf("warnings = %q, want one containing %q", s.Warnings, tc.wantWarn)
			}
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *model.Mesh)
		want   string
	}{
		{"duplicate listener", func(m *model.Mesh) { m.Listeners = append(m.Listeners, m.Listeners[0]) }, "duplicate"},
		{"duplicate cluster", func(m *model.Mesh) { m.Clusters = append(m.Clusters, m.Clusters[0]) }, "duplicate"},
		{"reserved cluster name", func(m *model.Mesh) { m.Clusters[0].Name = "invalid~x~0" }, "reserved"},
		{"service port 0", func(m *model.Mesh) { m.Listeners[0].Port = 0 }, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := meshSplit()
			tc.mutate(m)
			_, err := Translate(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Translate error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if s, err := Translate(nil); err != nil || len(allResources(s)) != 0 {
		t.Errorf("Translate(nil) = %v, %v; want an empty snapshot", s, err)
	}
}

func TestAllocatePorts(t *testing.T) {
	var names []string
	for i := range 5000 {
		names = append(names, "mesh~ns~svc"+strconv.Itoa(i)+"~80")
	}
	a, err := AllocatePorts(names)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]string{}
	for n, p := range a {
		if p < ListenerPortMin || p > ListenerPortMax || reservedPorts[p] {
			t.Errorf("%s got port %d outside [%d, %d] or reserved", n, p, ListenerPortMin, ListenerPortMax)
		}
		if o, dup := seen[p]; dup {
			t.Errorf("%s and %s share port %d", n, o, p)
		}
		seen[p] = n
	}
	rev := slices.Clone(names)
	slices.Reverse(rev)
	b, err := AllocatePorts(rev)
	if err != nil {
		t.Fatal(err)
	}
	for n, p := range a {
		if b[n] != p {
			t.Fatalf("%s: port %d, then %d for the same names in another order", n, p, b[n])
		}
	}
	// Stable: removing a name keeps every port of a name sorting before it.
	c, err := AllocatePorts(names[:len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	last := names[len(names)-1]
	for n, p := range c {
		if n < last && a[n] != p {
			t.Errorf("%s moved from %d to %d when %s was removed", n, a[n], p, last)
		}
	}
	many := make([]string, ListenerPortMax-ListenerPortMin+1)
	for i := range many {
		many[i] = "l" + strconv.Itoa(i)
	}
	if _, err := AllocatePorts(many); err == nil {
		t.Errorf("AllocatePorts of %d names: no error, want 'only N ports'", len(many))
	}
}

func TestValidateUnpacksAny(t *testing.T) {
	l, err := makeListener("l", 15001, xdscontract.Steering{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(l); err != nil {
		t.Fatalf("Validate(valid listener) = %v", err)
	}
	// Break the HTTP connection manager inside its Any: ValidateAll of the
	// listener alone cannot see that, Validate must.
	broken, err := anypb.New(&hcm.HttpConnectionManager{}) // no stat_prefix, no routes.
	if err != nil {
		t.Fatal(err)
	}
	bad := proto.Clone(l).(*listener.Listener)
	bad.GetFilterChains()[0].GetFilters()[0].ConfigType = &listener.Filter_TypedConfig{TypedConfig: broken}
	if err := bad.ValidateAll(); err != nil {
		t.Fatalf("listener ValidateAll = %v; the test needs the error to hide in the Any", err)
	}
	if _, err := makeListener("", 15001, xdscontract.Steering{}); err == nil {
		t.Errorf("makeListener with an empty name: no error")
	}
	err = Validate(bad)
	if err == nil || !strings.Contains(err.Error(), "HttpConnectionManager") {
		t.Errorf("Validate(listener with a broken HttpConnectionManager) = %v, want an error naming it", err)
	}
}

func TestCanonicalIP(t *testing.T) {
	for _, s := range []string{"198.18.0.1", "0.0.0.0", "255.255.255.255", "::1", "FD00::0001", "::ffff:198.18.0.1", "fe80::1%eth0"} {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := canonicalIP(s, addr), addr.String(); got != want {
			t.Errorf("canonicalIP(%q) = %q, want %q", s, got, want)
		}
	}
}
