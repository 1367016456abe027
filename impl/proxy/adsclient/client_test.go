package adsclient

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gammaproof/gammaproof/internal/background"
)

// recorder accepts everything except clusters named "bad", and subscribes
// to the endpoints of the clusters it accepted.
type recorder struct {
	mu       sync.Mutex
	clusters []string
	eds      map[string]string // cluster -> version applied
}

func (r *recorder) Apply(typeURL, version string, res []*anypb.Any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch typeURL {
	case resourcev3.ClusterType:
		var names []string
		for _, a := range res {
			c := &clusterv3.Cluster{}
			if err := a.UnmarshalTo(c); err != nil {
				return err
			}
			if c.GetName() == "bad" {
				return errors.New("cluster bad: rejected")
			}
			names = append(names, c.GetName())
		}
		r.clusters = names
	case resourcev3.EndpointType:
		for _, a := range res {
			e := &endpointv3.ClusterLoadAssignment{}
			if err := a.UnmarshalTo(e); err != nil {
				return err
			}
			r.eds[e.GetClusterName()] = version
		}
	}
	return nil
}

func (r *recorder) Names(typeURL string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if typeURL == resourcev3.EndpointType {
		return append([]string(nil), r.clusters...)
	}
	return nil
}

func TestClientSubscribesACKsAndNACKs(t *testing.T) {
	cache := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	var mu sync.Mutex
	var reqs []*discoveryv3.DiscoveryRequest
	cb := serverv3.CallbackFuncs{StreamRequestFunc: func(_ int64, req *discoveryv3.DiscoveryRequest) error {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		return nil
	}}
	gs := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(context.Background(), cache, cb))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	set := func(version string, clusters ...string) {
		var cs, es []types.Resource
		for _, c := range clusters {
			cs = append(cs, &clusterv3.Cluster{Name: c})
			es = append(es, &endpointv3.ClusterLoadAssignment{ClusterName: c})
		}
		snap, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{resourcev3.ClusterType: cs, resourcev3.EndpointType: es})
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.SetSnapshot(context.Background(), "n", snap); err != nil {
			t.Fatal(err)
		}
	}
	set("1", "a", "b")
	rec := &recorder{eds: map[string]string{}}
	c, err := New(Options{Address: ln.Addr().String(), NodeID: "n", Handler: rec})
	if err != nil {
		t.Fatal(err)
	}
	background.Run(t, "run", c.Run)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	waitFor("endpoints of a and b applied", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.eds["a"] == "1" && rec.eds["b"] == "1"
	})
	set("2", "a", "bad")
	waitFor("the bad cluster set is NACKed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reqs {
			if r.GetTypeUrl() == resourcev3.ClusterType && r.GetErrorDetail() != nil {
				return true
			}
		}
		return false
	})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	var acks, nacks int
	for _, r := range reqs {
		if r.GetTypeUrl() != resourcev3.ClusterType || r.GetResponseNonce() == "" {
			continue
		}
		if r.GetErrorDetail() != nil {
			nacks++
			if r.GetErrorDetail().GetMessage() != "cluster bad: rejected" {
				t.Errorf("NACK message %q", r.GetErrorDetail().GetMessage())
			}
		} else {
			acks++
			if r.GetVersionInfo() != "1" {
				t.Errorf("CDS ACK with version %q, want 1", r.GetVersionInfo())
			}
		}
	}
	mu.Unlock()
	if acks != 1 || nacks < 1 || nacks > 2 {
		t.Errorf("CDS: %d ACKs and %d NACKs, want 1 ACK and 1-2 NACKs (no NACK loop)", acks, nacks)
	}
	rec.mu.Lock()
	if got := slices.Sorted(slices.Values(rec.clusters)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("clusters after NACK = %v, want the previous [a b]", rec.clusters)
	}
	rec.mu.Unlock()
	set("3", "a", "c")
	waitFor("the next good version is applied", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.eds["c"] == "3"
	})
}

// TestConfigInfoAfterReconnect checks that the config-info gauge names one
// version per type after the client reconnects to a server with other
// versions: the new version replaces the one applied on the old stream.
func TestConfigInfoAfterReconnect(t *testing.T) {
	// serve runs an ADS server on addr whose snapshot has version.
	serve := func(addr, version string) (*grpc.Server, string) {
		cache := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
		snap, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{
			resourcev3.ClusterType:  {&clusterv3.Cluster{Name: "a"}},
			resourcev3.EndpointType: {&endpointv3.ClusterLoadAssignment{ClusterName: "a"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.SetSnapshot(context.Background(), "n", snap); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(context.Background(), cache, nil))
		go gs.Serve(ln)
		return gs, ln.Addr().String()
	}
	first, addr := serve("127.0.0.1:0", "1")
	reg := prometheus.NewRegistry()
	c, err := New(Options{Address: addr, NodeID: "n", Handler: &recorder{eds: map[string]string{}}, Registerer: reg, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	background.Run(t, "run", c.Run)
	// versions are the config-info gauge's versions per type.
	versions := func() map[string][]string {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, mf := range mfs {
			if mf.GetName() != "gammaproof_proxy_xds_config_info" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				out[labels["type"]] = append(out[labels["type"]], labels["version"])
			}
		}
		return out
	}
	waitVersions := func(want string) {
		t.Helper()
		wantAll := map[string][]string{"cds": {want}, "eds": {want}}
		var got map[string][]string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got = versions(); maps.EqualFunc(got, wantAll, slices.Equal) {
				return
			}
		}
		t.Fatalf("config-info versions = %v, want %v", got, wantAll)
	}
	waitVersions("1")
	first.Stop()
	second, _ := serve(addr, "2")
	t.Cleanup(second.Stop)
	waitVersions("2")
}
