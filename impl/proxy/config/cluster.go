package config

import (
	"fmt"
	"net"
	"strconv"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// ParseCluster converts a Cluster, failing on anything unsupported.
func ParseCluster(c *clusterv3.Cluster) (*Cluster, error) {
	p := fmt.Sprintf("cluster %q", c.GetName())
	if err := xdscontract.OnlyFields(c, p, "name", "type", "eds_cluster_config", "connect_timeout", "typed_extension_protocol_options", "alt_stat_name"); err != nil {
		return nil, err
	}
	if c.GetName() == "" {
		return nil, fmt.Errorf("cluster: name is empty")
	}
	if c.GetType() != clusterv3.Cluster_EDS {
		return nil, xdscontract.Unsupported(p+".type", "%v (only EDS)", c.GetType())
	}
	out := &Cluster{Name: c.GetName(), EDSName: c.GetName(), ConnectTimeout: xdscontract.DefaultConnectTimeout}
	if ec := c.GetEdsClusterConfig(); ec != nil {
		if err := xdscontract.OnlyFields(ec, p+".eds_cluster_config", "eds_config", "service_name"); err != nil {
			return nil, err
		}
		if err := adsSource(ec.GetEdsConfig(), p+".eds_cluster_config.eds_config"); err != nil {
			return nil, err
		}
		if ec.GetServiceName() != "" {
			out.EDSName = ec.GetServiceName()
		}
	} else {
		return nil, fmt.Errorf("%s.eds_cluster_config: missing", p)
	}
	if c.GetConnectTimeout() != nil {
		d, err := xdscontract.DecodeDuration(c.GetConnectTimeout(), p+".connect_timeout")
		if err != nil {
			return nil, err
		}
		out.ConnectTimeout = d
	}
	for k, v := range c.GetTypedExtensionProtocolOptions() {
		kp := fmt.Sprintf("%s.typed_extension_protocol_options[%q]", p, k)
		if k != xdscontract.HTTPProtocolOptionsKey {
			return nil, xdscontract.Unsupported(kp, "extension")
		}
		po := &upstreamhttpv3.HttpProtocolOptions{}
		if err := unpack(v, kp, po); err != nil {
			return nil, err
		}
		if err := xdscontract.OnlyFields(po, kp, "explicit_http_config"); err != nil {
			return nil, err
		}
		ex := po.GetExplicitHttpConfig()
		if ex == nil {
			return nil, fmt.Errorf("%s.explicit_http_config: missing", kp)
		}
		ep := kp + ".explicit_http_config"
		if err := xdscontract.OnlyFields(ex, ep, "http_protocol_options", "http2_protocol_options"); err != nil {
			return nil, err
		}
		switch {
		case ex.GetHttp2ProtocolOptions() != nil:
			if err := xdscontract.OnlyFields(ex.GetHttp2ProtocolOptions(), ep+".http2_protocol_options"); err != nil {
				return nil, err
			}
			out.HTTP2 = true
		case ex.GetHttpProtocolOptions() != nil:
			if err := xdscontract.OnlyFields(ex.GetHttpProtocolOptions(), ep+".http_protocol_options"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: no protocol config", ep)
		}
	}
	return out, nil
}

// ParseEndpoints converts a ClusterLoadAssignment, keeping endpoints whose
// health is HEALTHY or UNKNOWN.
func ParseEndpoints(cla *endpointv3.ClusterLoadAssignment) (*Endpoints, error) {
	p := fmt.Sprintf("cluster load assignment %q", cla.GetClusterName())
	if err := xdscontract.OnlyFields(cla, p, "cluster_name", "endpoints"); err != nil {
		return nil, err
	}
	if cla.GetClusterName() == "" {
		return nil, fmt.Errorf("cluster load assignment: cluster_name is empty")
	}
	out := &Endpoints{Cluster: cla.GetClusterName()}
	for i, le := range cla.GetEndpoints() {
		lp := fmt.Sprintf("%s.endpoints[%d]", p, i)
		if err := xdscontract.OnlyFields(le, lp, "locality", "lb_endpoints"); err != nil {
			return nil, err
		}
		for j, lb := range le.GetLbEndpoints() {
			ep := fmt.Sprintf("%s.lb_endpoints[%d]", lp, j)
			if err := xdscontract.OnlyFields(lb, ep, "endpoint", "health_status"); err != nil {
				return nil, err
			}
			e := lb.GetEndpoint()
			if e == nil {
				return nil, fmt.Errorf("%s.endpoint: missing", ep)
			}
			if err := xdscontract.OnlyFields(e, ep+".endpoint", "address", "hostname"); err != nil {
				return nil, err
			}
			host, port, err := socketAddress(e.GetAddress(), ep+".endpoint.address")
			if err != nil {
				return nil, err
			}
			if port == 0 {
				return nil, fmt.Errorf("%s.endpoint.address.socket_address.port_value: 0", ep)
			}
			switch lb.GetHealthStatus() {
			case corev3.HealthStatus_UNKNOWN, corev3.HealthStatus_HEALTHY:
				out.Addrs = append(out.Addrs, net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)))
			}
		}
	}
	return out, nil
}
