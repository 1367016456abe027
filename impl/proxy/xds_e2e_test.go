package proxy

import (
	"net"
	"strconv"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
)

// TestWithXDSServer runs the proxy against the controller's real xDS server
// (impl/xds) fed a model mesh: a 90/10 split with a weight-0 invalid backend
// and a consumer listener whose route answers 500.
func TestWithXDSServer(t *testing.T) {
	v1, v2 := startEcho(t, "v1"), startEcho(t, "v2")
	ep := func(url string) []model.Endpoint {
		host, port, err := net.SplitHostPort(hostPort(t, url))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		return []model.Endpoint{{Address: host, Port: int32(p)}}
	}
	svc := model.ServiceRef{Namespace: "gpt-h5", Name: "bookstore"}
	mesh := &model.Mesh{
		Listeners: []model.Listener{
			{
				Name: "mesh~gpt-h5~bookstore~8080~h1", Service: svc, Port: 8080, VIPs: []string{"198.19.0.10"},
				ParentCluster: "svc~default~bookstore-v1~8080~h1",
				Routes: []model.Route{{
					Name:  "split",
					Match: model.Match{PathType: model.PathPrefix, PathValue: "/"},
					Backends: []model.Backend{
						{Cluster: "svc~default~bookstore-v1~8080~h1", Weight: 90},
						{Cluster: "svc~default~bookstore-v2~8080~h1", Weight: 10},
						{Invalid: "BackendNotFound", Weight: 0},
					},
				}},
			},
			{
				Name: "mesh~gpt-h5~bookstore~8080~from~team-b", Service: svc, Port: 8080, VIPs: []string{"198.19.0.10"}, CallerNamespace: "team-b",
				ParentCluster: "svc~default~bookstore-v1~8080~h1",
				Routes: []model.Route{{
					Name:     "all-invalid",
					Match:    model.Match{PathType: model.PathPrefix, PathValue: "/"},
					Backends: []model.Backend{{Invalid: "RefNotPermitted", Weight: 1}},
				}},
			},
		},
		Clusters: []model.Cluster{
			{Name: "svc~default~bookstore-v1~8080~h1", Protocol: model.ProtocolHTTP1, Endpoints: ep(v1.URL)},
			{Name: "svc~default~bookstore-v2~8080~h1", Protocol: model.ProtocolHTTP1, Endpoints: ep(v2.URL)},
		},
	}
	p := serveMesh(t, mesh)
	base := p.url(t, "mesh~gpt-h5~bookstore~8080~h1")
	consumer := p.url(t, "mesh~gpt-h5~bookstore~8080~from~team-b")

	counts := map[string]int{}
	const n = 1000
	for range n {
		r, e := get(t, base+"/")
		if r.StatusCode != 200 {
			t.Fatalf("status %d, want 200", r.StatusCode)
		}
		counts[e.Backend]++
	}
	if share := float64(counts["v1"]) / n; share < 0.86 || share > 0.94 {
		t.Errorf("v1 share %.3f over %d (%v), want 0.90 ± 0.04", share, n, counts)
	}
	if r, _ := get(t, consumer+"/"); r.StatusCode != 500 {
		t.Errorf("consumer listener with only an invalid backend: %d, want 500", r.StatusCode)
	}
	for _, l := range p.Listeners() {
		if l.ServicePort != 8080 || len(l.VIPs) != 1 || l.Service != "gpt-h5/bookstore" {
			t.Errorf("listener info %+v, want servicePort 8080, one VIP, service gpt-h5/bookstore", l)
		}
	}
	if n := p.metric(t, "gammaproof_proxy_xds_nacks_total", nil); n != 0 {
		t.Errorf("%v NACKs of impl/xds resources, want 0", n)
	}
}
