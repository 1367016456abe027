package xds

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// adsClient is a minimal SotW ADS client on a real gRPC stream.
type adsClient struct {
	t      *testing.T
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *core.Node
	resp   chan *discovery.DiscoveryResponse
}

func dialADS(t *testing.T, ctx context.Context, addr, nodeID string) *adsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("open ADS stream: %v", err)
	}
	c := &adsClient{t: t, stream: stream, node: &core.Node{Id: nodeID}, resp: make(chan *discovery.DiscoveryResponse, 16)}
	recvDone := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-recvDone
		conn.Close()
	})
	go func() {
		defer close(recvDone)
		defer close(c.resp)
		for {
			r, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					t.Errorf("ADS Recv: %v", err)
				}
				return
			}
			select {
			case c.resp <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return c
}

func (c *adsClient) send(typeURL, version, nonce string, names []string, nack string) {
	c.t.Helper()
	req := &discovery.DiscoveryRequest{Node: c.node, TypeUrl: typeURL, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names}
	if nack != "" {
		req.ErrorDetail = &status.Status{Code: 3, Message: nack}
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatalf("ADS Send %s: %v", typeURL, err)
	}
}

// next waits for the next response of typeURL.
func (c *adsClient) next(typeURL string) *discovery.DiscoveryResponse {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case r, ok := <-c.resp:
			if !ok {
				c.t.Fatalf("ADS stream closed waiting for %s", typeURL)
			}
			if r.GetTypeUrl() == typeURL {
				return r
			}
			c.t.Logf("skipping %s response while waiting for %s", r.GetTypeUrl(), typeURL)
		case <-timeout:
			c.t.Fatalf("no %s response within 5s", typeURL)
		}
	}
}

// subscribe requests resources of typeURL by name (nil: all), stops the
// test unless the response holds exactly want, and ACKs it. It returns the
// response and its resources' names.
func (c *adsClient) subscribe(typeURL string, resourceNames, want []string) (*discovery.DiscoveryResponse, []string) {
	c.t.Helper()
	c.send(typeURL, "", "", resourceNames, "")
	r := c.next(typeURL)
	got := names(c.t, r)
	if !slices.Equal(got, want) {
		c.t.Fatalf("%s = %v, want %v", typeURL, got, want)
	}
	c.send(typeURL, r.GetVersionInfo(), r.GetNonce(), resourceNames, "")
	return r, got
}

// expectNone asserts no response arrives for d.
func (c *adsClient) expectNone(d time.Duration) {
	c.t.Helper()
	if r, ok := receive(c.resp, d); ok {
		c.t.Errorf("unexpected %s response version %s", r.GetTypeUrl(), r.GetVersionInfo())
	}
}

// receive returns what ch delivers within d; ok is false when nothing
// arrives in time.
func receive[T any](ch <-chan T, d time.Duration) (v T, ok bool) {
	select {
	case v = <-ch:
		return v, true
	case <-time.After(d):
		return v, false
	}
}

// names of the resources in r, sorted.
func names(t *testing.T, r *discovery.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("unpack %s: %v", a.GetTypeUrl(), err)
		}
		if err := Validate(m); err != nil {
			t.Errorf("received resource does not validate: %v", err)
		}
		switch v := m.(type) {
		case interface{ GetName() string }:
			out = append(out, v.GetName())
		case *endpoint.ClusterLoadAssignment:
			out = append(out, v.GetClusterName())
		}
	}
	slices.Sort(out)
	return out
}

func startServer(t *testing.T) (*Server, string, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		switch err, ok := receive(done, 5*time.Second); {
		case !ok:
			t.Errorf("Serve did not return within 5s of cancel")
		case err != nil:
			t.Errorf("Serve returned %v after cancel, want nil", err)
		}
	})
	return s, lis.Addr().String(), ctx
}

// TestServerADSRoundTrip runs the real gRPC server on loopback against a
// real ADS stream: CDS, EDS, LDS, RDS in the order Envoy asks, each ACKed,
// then an Update that must be pushed without a new request.
func TestServerADSRoundTrip(t *testing.T) {
	s, addr, ctx := startServer(t)
	if err := s.Update(ctx, meshSplit()); err != nil {
		t.Fatalf("Update: %v", err)
	}
	v1 := s.Version()
	if v1 == "" {
		t.Fatal("Version empty after Update")
	}
	c := dialADS(t, ctx, addr, "node-a")

	_, clusters := c.subscribe(resource.ClusterType, nil, []string{"svc~default~bookstore-v1~8080~h1", "svc~default~bookstore-v2~8080~h1"})
	c.subscribe(resource.EndpointType, clusters, clusters)
	_, listeners := c.subscribe(resource.ListenerType, nil, []string{"mesh~default~bookstore~8080"})
	rds, _ := c.subscribe(resource.RouteType, listeners, listeners)
	c.expectNone(200 * time.Millisecond) // ACKs bring nothing new.

	// The same mesh again changes nothing: no push.
	if err := s.Update(ctx, meshSplit()); err != nil {
		t.Fatalf("Update (same mesh): %v", err)
	}
	if s.Version() != v1 {
		t.Errorf("Version changed from %s to %s for the same mesh", v1, s.Version())
	}
	c.expectNone(200 * time.Millisecond)

	// 90/10 -> 50/50: only the route configuration changes and is pushed.
	m := meshSplit()
	m.Listeners[0].Routes[0].Backends[0].Weight = 50
	m.Listeners[0].Routes[0].Backends[1].Weight = 50
	if err := s.Update(ctx, m); err != nil {
		t.Fatalf("Update (50/50): %v", err)
	}
	if s.Version() == v1 {
		t.Fatalf("Version unchanged after a weight change")
	}
	rds2 := c.next(resource.RouteType)
	if rds2.GetVersionInfo() == rds.GetVersionInfo() {
		t.Errorf("pushed RDS has the old version %s", rds2.GetVersionInfo())
	}
	rc := &route.RouteConfiguration{}
	if err := rds2.GetResources()[0].UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	var weights []uint32
	for _, wc := range rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetWeightedClusters().GetClusters() {
		weights = append(weights, wc.GetWeight().GetValue())
	}
	if !slices.Equal(weights, []uint32{50, 50}) {
		t.Errorf("pushed weights = %v, want [50 50]", weights)
	}
	// A NACK keeps the stream and is not answered with the rejected config
	// again (that would loop); the proxy keeps its old config until the
	// next snapshot.
	c.send(resource.RouteType, rds.GetVersionInfo(), rds2.GetNonce(), listeners, "unsupported field: test")
	c.expectNone(300 * time.Millisecond)

	// A new endpoint is pushed over EDS.
	m.Clusters[1].Endpoints = append(m.Clusters[1].Endpoints, m.Clusters[1].Endpoints[0])
	m.Clusters[1].Endpoints[1].Address = "198.18.0.22"
	if err := s.Update(ctx, m); err != nil {
		t.Fatalf("Update (new endpoint): %v", err)
	}
	eds2 := c.next(resource.EndpointType)
	var got []string
	for _, a := range eds2.GetResources() {
		cla := &endpoint.ClusterLoadAssignment{}
		if err := a.UnmarshalTo(cla); err != nil {
			t.Fatal(err)
		}
		for _, le := range cla.GetEndpoints() {
			for _, ep := range le.GetLbEndpoints() {
				got = append(got, ep.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
	}
	slices.Sort(got)
	if want := []string{"198.18.0.11", "198.18.0.12", "198.18.0.21", "198.18.0.22"}; !slices.Equal(got, want) {
		t.Errorf("pushed endpoints = %v, want %v", got, want)
	}

	// A second node gets the same mesh-wide snapshot.
	c2 := dialADS(t, ctx, addr, "node-b")
	c2.send(resource.RouteType, "", "", listeners, "")
	if r := c2.next(resource.RouteType); !proto.Equal(r.GetResources()[0], rds2.GetResources()[0]) || r.GetVersionInfo() != rds2.GetVersionInfo() {
		t.Errorf("node-b got another route configuration (version %s) than node-a (%s)", r.GetVersionInfo(), rds2.GetVersionInfo())
	}
}

func TestServerUpdateRejectsBadMesh(t *testing.T) {
	s := NewServer(ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	if err := s.Update(ctx, meshSplit()); err != nil {
		t.Fatal(err)
	}
	v := s.Version()
	m := meshSplit()
	m.Listeners = append(m.Listeners, m.Listeners[0])
	if err := s.Update(ctx, m); err == nil {
		t.Fatal("Update with duplicate listeners: no error")
	}
	if s.Version() != v {
		t.Errorf("a failed Update changed the version from %s to %s", v, s.Version())
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	s := NewServer(ServerOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.Serve(context.Background(), lis); err == nil {
		t.Fatal("Serve on a closed listener: no error")
	}
}
