package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/bpf/steer/steertest"
	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xds"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

// Addresses of the veth between the host (where the proxy listens) and the
// callers' network namespace, which has no other route.
var (
	hostSide   = netip.MustParsePrefix("169.254.250.1/30")
	callerSide = netip.MustParsePrefix("169.254.250.2/30")
)

// callerNetns creates a named netns joined to the host by a veth pair and
// removes both when the test ends.
func callerNetns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("gpt-node-%x", rand.Uint32())
	hostLink, nsLink := name[:12]+"h", name[:12]+"n"

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		t.Fatalf("return to the host netns: %v", serr) // Leave the thread locked: it is in the wrong netns.
	}
	orig.Close()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})

	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostLink}, PeerName: nsLink, PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netlink.LinkDel(veth); err != nil {
			t.Errorf("delete link %s: %v", hostLink, err)
		}
	})
	if err := netlink.AddrAdd(veth, &netlink.Addr{IPNet: prefixNet(hostSide)}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, n := range []string{"lo", nsLink} {
		l, err := h.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == nsLink {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: prefixNet(callerSide)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

func backend(t *testing.T, name string) model.Endpoint {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "Response from "+name)
	}))
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return model.Endpoint{Address: ap.Addr().String(), Port: int32(ap.Port())}
}

// TestRunEndToEnd runs the real chain on one host: xDS server -> in-process
// proxy -> agent -> eBPF. A process in a pod's cgroup (in its own netns,
// whose only route is to the host) asks http://<VIP>/ and gets the backend
// its namespace's listener routes to. The socket shortcut is on, as in
// gamma-node; the proxy is outside the pods' cgroup here, so only the
// caller's socket enters the sockhash: it must still be answered, and the
// shortcut's metrics count its fallback to the normal path.
func TestRunEndToEnd(t *testing.T) {
	steertest.RequireRoot(t)
	c := kubernetes.NewForConfigOrDie(testenv.Start(t))
	const node = "gpt-node-e2e"
	podA, podB := clientPods(t, c, node)
	dirA, dirB := "pod"+string(podA.UID), "pod"+string(podB.UID)
	parent := steertest.Cgroup(t, "node-e2e", dirA, dirB)
	callers := callerNetns(t)

	v1, v2 := backend(t, "v1"), backend(t, "v2")
	svc := model.ServiceRef{Namespace: "team-a", Name: "bookstore"}
	route := func(backendSvc string) []model.Route {
		return []model.Route{{
			Name:   "HTTPRoute/team-a/bookstore/rule0/match0",
			Source: model.RouteRef{Kind: "HTTPRoute", Namespace: "team-a", Name: "bookstore"},
			Match:  model.Match{PathType: model.PathPrefix, PathValue: "/"},
			Backends: []model.Backend{{
				Cluster: "svc~team-a~" + backendSvc + "~80", Service: model.ServiceRef{Namespace: "team-a", Name: backendSvc}, Port: 80, Weight: 1,
			}},
		}}
	}
	mesh := &model.Mesh{
		Listeners: []model.Listener{
			{Name: "mesh~team-a~bookstore~80", Service: svc, Port: 80, VIPs: []string{"198.19.5.5"},
				ParentCluster: "svc~team-a~bookstore~80", Routes: route("bookstore-v1")},
			{Name: "mesh~team-a~bookstore~80~from~team-b", Service: svc, Port: 80, VIPs: []string{"198.19.5.5"}, CallerNamespace: "team-b",
				ParentCluster: "svc~team-a~bookstore~80", Routes: route("bookstore-v2")},
		},
		Clusters: []model.Cluster{
			{Name: "svc~team-a~bookstore-v1~80", Service: model.ServiceRef{Namespace: "team-a", Name: "bookstore-v1"}, Port: 80, Protocol: model.ProtocolHTTP1, Endpoints: []model.Endpoint{v1}},
			{Name: "svc~team-a~bookstore-v2~80", Service: model.ServiceRef{Namespace: "team-a", Name: "bookstore-v2"}, Port: 80, Protocol: model.ProtocolHTTP1, Endpoints: []model.Endpoint{v2}},
			{Name: "svc~team-a~bookstore~80", Service: svc, Port: 80, Protocol: model.ProtocolHTTP1},
		},
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(t.Context())
	xsrv := xds.NewServer(xds.ServerOptions{Logger: log})
	if err := xsrv.Update(ctx, mesh); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	done := make(chan error, 2)
	go func() { done <- xsrv.Serve(ctx, ln) }()
	go func() {
		done <- Run(ctx, Config{
			ADSAddress: ln.Addr().String(),
			Registerer: reg,
			Agent: Options{
				Client: c, NodeName: node, ProxyIP: hostSide.Addr(), CgroupParent: parent, Shortcut: true,
				Resync: 200 * time.Millisecond, Logger: log,
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})

	tests := []struct{ name, cgroup, want string }{
		{"producer route for team-a", dirA, "Response from v1"},
		{"consumer route for team-b", dirB, "Response from v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deadline := time.Now().Add(20 * time.Second)
			for {
				res := steertest.Run(t, filepath.Join(parent, tc.cgroup), steertest.Probe{Netns: callers, Dial: "198.19.5.5:80", HTTPGet: "/"})
				if res.Status == http.StatusOK && res.Body == tc.want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET http://198.19.5.5/: got %+v, want 200 %q", res, tc.want)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}

	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if m := f.GetMetric(); strings.HasPrefix(f.GetName(), "gammaproof_node_shortcut_") && len(m) == 1 {
			got[f.GetName()] = m[0].GetGauge().GetValue() + m[0].GetCounter().GetValue()
		}
	}
	if _, ok := got["gammaproof_node_shortcut_sockets"]; !ok || got["gammaproof_node_shortcut_fallbacks_total"] < 1 {
		t.Errorf("shortcut metrics %v: want the sockets gauge and at least one fallback (the callers' sockets, whose peer is outside the cgroup)", got)
	}
}
