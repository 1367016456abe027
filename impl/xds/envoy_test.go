package xds

// Real Envoy cannot run here: there is no envoy binary on these machines
// and no container engine to pull one. What stands in for it:
//
//   - every resource of every golden case, of the fuzz target and of the
//     scale test passes [Validate] (protoc-gen-validate's ValidateAll, the
//     same rules Envoy applies on config load, with Anys unpacked);
//   - TestEnvoyStaticConfig below writes each golden case as a complete,
//     static Envoy bootstrap (RDS inlined, EDS turned into STATIC clusters)
//     to testdata/envoy/<case>.json.
//
// What would check it for real, on a machine with Envoy ≥ 1.36 (the API of
// go-control-plane/envoy v1.40.0):
//
//	for f in impl/xds/testdata/envoy/*.json; do envoy --mode validate -c "$f" || exit 1; done
//
// and on kind (make e2e ENV=kind), the dynamic path: run
// envoyproxy/envoy as the node proxy in the gamma-node DaemonSet with a
// bootstrap whose dynamic_resources use ads_config (gRPC to the
// controller's --xds-address :15010, transport_api_version V3) for both
// lds_config and cds_config, and run the same scenarios; Envoy must ACK
// every version (its /config_dump shows the controller's version_info, and
// control_plane.rejected_total... stats stay 0) and the suite's statistical
// checks must pass as with our proxy. Static validation differs from the
// dynamic path in one way: a static route table makes Envoy check that
// every cluster exists (validate_clusters defaults to true), so the static
// files set validate_clusters false, which is the RDS default the
// invalid~ clusters rely on.

import (
	"path/filepath"
	"slices"
	"testing"

	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gammaproof/gammaproof/internal/golden"
)

// staticBootstrap turns a snapshot into a bootstrap Envoy can validate
// offline: routes inlined into the listeners, endpoints into the clusters.
func staticBootstrap(t *testing.T, s *Snapshot) *bootstrap.Bootstrap {
	t.Helper()
	sorted := func(typ types.ResponseType) []types.Resource {
		items := s.Resources.Resources[typ].Items
		names := make([]string, 0, len(items))
		for n := range items {
			names = append(names, n)
		}
		slices.Sort(names)
		out := make([]types.Resource, len(names))
		for i, n := range names {
			out[i] = items[n].Resource
		}
		return out
	}
	b := &bootstrap.Bootstrap{StaticResources: &bootstrap.Bootstrap_StaticResources{}}
	routes := s.Resources.Resources[types.Route].Items
	for _, r := range sorted(types.Listener) {
		l := proto.Clone(r).(*listener.Listener)
		f := l.GetFilterChains()[0].GetFilters()[0]
		m := &hcm.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		rc := proto.Clone(routes[m.GetRds().GetRouteConfigName()].Resource).(*route.RouteConfiguration)
		rc.ValidateClusters = wrapperspb.Bool(false)
		m.RouteSpecifier = &hcm.HttpConnectionManager_RouteConfig{RouteConfig: rc}
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		f.ConfigType = &listener.Filter_TypedConfig{TypedConfig: a}
		b.StaticResources.Listeners = append(b.StaticResources.Listeners, l)
	}
	eps := s.Resources.Resources[types.Endpoint].Items
	for _, r := range sorted(types.Cluster) {
		c := proto.Clone(r).(*cluster.Cluster)
		c.ClusterDiscoveryType = &cluster.Cluster_Type{Type: cluster.Cluster_STATIC}
		c.EdsClusterConfig = nil
		c.LoadAssignment = proto.Clone(eps[c.GetName()].Resource).(*endpoint.ClusterLoadAssignment)
		b.StaticResources.Clusters = append(b.StaticResources.Clusters, c)
	}
	return b
}

// TestEnvoyStaticConfig writes and checks testdata/envoy/<case>.json, the
// files `envoy --mode validate` takes (see the comment at the top).
func TestEnvoyStaticConfig(t *testing.T) {
	forGoldenCases(t, func(t *testing.T, tc goldenCase, s *Snapshot) {
		b := staticBootstrap(t, s)
		if err := Validate(b); err != nil {
			t.Fatalf("static bootstrap does not validate: %v", err)
		}
		raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got := normalizeJSON(t, raw)
		golden.Compare(t, filepath.Join("testdata", "envoy", tc.name+".json"), got, *update)
	})
}
