package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/internal/background"
	"github.com/gammaproof/gammaproof/internal/controllername"
	"github.com/gammaproof/gammaproof/internal/loopback"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

// TestServe runs the wired binary (controller + xDS server) against a real
// API server and reads the route's listener over ADS, as a node proxy would.
func TestServe(t *testing.T) {
	cfg := testenv.Start(t)
	kubeconfig := writeKubeconfig(t, cfg)
	xdsAddr := loopback.FreeAddr(t)

	c := testenv.Client(t, cfg, controller.NewScheme)
	ctx := t.Context()
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "bookstore"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}}},
		&gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "r"},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{
				Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")), Name: "bookstore", Port: ptr.To(gwv1.PortNumber(8080)),
			}}}},
		},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}

	f, err := parseFlags([]string{"--kubeconfig", kubeconfig, "--xds-address", xdsAddr, "--metrics-address=0", "--health-address=0", "--namespace=default", "--grant-policy=strict", "--log-level=warn"})
	if err != nil {
		t.Fatal(err)
	}
	background.Run(t, "serve", func(ctx context.Context) error { return serve(ctx, f) })

	// Route status from the leader.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var hr gwv1.HTTPRoute
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "r"}, &hr); err != nil {
			t.Fatal(err)
		}
		if len(hr.Status.Parents) == 1 && hr.Status.Parents[0].ControllerName == controllername.Gammaproof &&
			meta.IsStatusConditionTrue(hr.Status.Parents[0].Conditions, "Accepted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("route status = %+v, want Accepted by %s", hr.Status.Parents, controllername.Gammaproof)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The listener over ADS.
	conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sctx2, cancel2 := context.WithTimeout(ctx, 60*time.Second)
	defer cancel2()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx2)
	if err != nil {
		t.Fatal(err)
	}
	req := &discovery.DiscoveryRequest{Node: &core.Node{Id: "test-node"}, TypeUrl: resource.ListenerType}
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("receive listeners: %v", err)
		}
		var names []string
		for _, a := range resp.Resources {
			var l listener.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				t.Fatal(err)
			}
			names = append(names, l.Name)
		}
		if slices.Contains(names, "mesh~team-a~bookstore~8080") {
			return
		}
		t.Logf("listeners %v (version %s), waiting", names, resp.VersionInfo)
		req = &discovery.DiscoveryRequest{Node: req.Node, TypeUrl: resource.ListenerType, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}
	}
}

func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}
