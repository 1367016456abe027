package config

import (
	"fmt"
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

// unpack unpacks a into into, which must be of a's type.

func unpack(a *anypb.Any, path string, into proto.Message) error {
	if a == nil {
		return fmt.Errorf("%s: missing", path)
	}
	want := "type.googleapis.com/" + string(into.ProtoReflect().Descriptor().FullName())
	if a.GetTypeUrl() != want {
		return xdscontract.Unsupported(path, "type %q (want %q)", a.GetTypeUrl(), want)
	}
	if err := a.UnmarshalTo(into); err != nil {
		return fmt.Errorf("%s: decode %s: %w", path, a.GetTypeUrl(), err)
	}
	return nil
}

// ParseListener converts a Listener, failing on anything unsupported.
func ParseListener(l *listenerv3.Listener) (*Listener, error) {
	p := fmt.Sprintf("listener %q", l.GetName())
	if err := xdscontract.OnlyFields(l, p, "name", "address", "filter_chains", "metadata", "traffic_direction", "stat_prefix"); err != nil {
		return nil, err
	}
	out := &Listener{Name: l.GetName()}
	if out.Name == "" {
		return nil, fmt.Errorf("listener: name is empty")
	}
	host, port, err := socketAddress(l.GetAddress(), p+".address")
	if err != nil {
		return nil, err
	}
	out.Host, out.Port = host, port
	hcm, hp, err := connectionManager(l, p)
	if err != nil {
		return nil, err
	}
	if err := parseRouteSpecifier(hcm, hp, out); err != nil {
		return nil, err
	}
	if err := checkRouterFilter(hcm, hp); err != nil {
		return nil, err
	}
	if out.Steering, err = xdscontract.DecodeSteeringMetadata(l.GetMetadata(), p+".metadata"); err != nil {
		return nil, err
	}
	return out, nil
}

// connectionManager returns the HTTP connection manager of l's one filter
// chain of one filter, and the path naming it in errors; p names l.
func connectionManager(l *listenerv3.Listener, p string) (*hcmv3.HttpConnectionManager, string, error) {
	if len(l.GetFilterChains()) != 1 {
		return nil, "", xdscontract.Unsupported(p+".filter_chains", "%d filter chains (want exactly 1)", len(l.GetFilterChains()))
	}
	fc := l.GetFilterChains()[0]
	fp := p + ".filter_chains[0]"
	if err := xdscontract.OnlyFields(fc, fp, "filters", "name"); err != nil {
		return nil, "", err
	}
	if len(fc.GetFilters()) != 1 {
		return nil, "", xdscontract.Unsupported(fp+".filters", "%d filters (want exactly 1, %s)", len(fc.GetFilters()), xdscontract.HTTPConnectionManagerName)
	}
	f := fc.GetFilters()[0]
	fp += ".filters[0]"
	if err := xdscontract.OnlyFields(f, fp, "name", "typed_config"); err != nil {
		return nil, "", err
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := unpack(f.GetTypedConfig(), fp+".typed_config", hcm); err != nil {
		return nil, "", err
	}
	hp := fp + ".typed_config"
	if err := xdscontract.OnlyFields(hcm, hp, "stat_prefix", "codec_type", "rds", "route_config", "http_filters"); err != nil {
		return nil, "", err
	}
	return hcm, hp, nil
}

// parseRouteSpecifier sets out's route name (RDS) or its inline routes
// from hcm; hp names hcm in errors.
func parseRouteSpecifier(hcm *hcmv3.HttpConnectionManager, hp string, out *Listener) error {
	switch {
	case hcm.GetRds() != nil:
		rds := hcm.GetRds()
		if err := xdscontract.OnlyFields(rds, hp+".rds", "config_source", "route_config_name"); err != nil {
			return err
		}
		if err := adsSource(rds.GetConfigSource(), hp+".rds.config_source"); err != nil {
			return err
		}
		if rds.GetRouteConfigName() == "" {
			return fmt.Errorf("%s.rds.route_config_name: empty", hp)
		}
		out.RouteName = rds.GetRouteConfigName()
	case hcm.GetRouteConfig() != nil:
		rt, err := ParseRouteConfiguration(hcm.GetRouteConfig())
		if err != nil {
			return fmt.Errorf("%s.route_config: %w", hp, err)
		}
		out.Routes = rt
	default:
		return xdscontract.Unsupported(hp, "route_specifier must be rds or route_config")
	}
	return nil
}

// checkRouterFilter checks that hcm's one HTTP filter is the router, with
// no options; hp names hcm in errors.
func checkRouterFilter(hcm *hcmv3.HttpConnectionManager, hp string) error {
	if n := len(hcm.GetHttpFilters()); n != 1 {
		return xdscontract.Unsupported(hp+".http_filters", "%d http filters (want exactly 1, %s)", n, xdscontract.RouterName)
	}
	hf := hcm.GetHttpFilters()[0]
	hfp := hp + ".http_filters[0]"
	if err := xdscontract.OnlyFields(hf, hfp, "name", "typed_config"); err != nil {
		return err
	}
	if hf.GetTypedConfig() == nil {
		if hf.GetName() != xdscontract.RouterName {
			return xdscontract.Unsupported(hfp+".name", "http filter %q", hf.GetName())
		}
		return nil
	}
	router := &routerv3.Router{}
	if err := unpack(hf.GetTypedConfig(), hfp+".typed_config", router); err != nil {
		return err
	}
	return xdscontract.OnlyFields(router, hfp+".typed_config")
}

func socketAddress(a *corev3.Address, path string) (string, uint32, error) {
	if a == nil {
		return "", 0, fmt.Errorf("%s: missing", path)
	}
	if err := xdscontract.OnlyFields(a, path, "socket_address"); err != nil {
		return "", 0, err
	}
	sa := a.GetSocketAddress()
	if sa == nil {
		return "", 0, fmt.Errorf("%s.socket_address: missing", path)
	}
	if err := xdscontract.OnlyFields(sa, path+".socket_address", "address", "port_value"); err != nil {
		return "", 0, err
	}
	if sa.GetPortValue() > 65535 {
		return "", 0, fmt.Errorf("%s.socket_address.port_value: %d out of range", path, sa.GetPortValue())
	}
	if _, err := netip.ParseAddr(sa.GetAddress()); err != nil {
		return "", 0, xdscontract.Unsupported(path+".socket_address.address", "%q is not an IP address", sa.GetAddress())
	}
	return sa.GetAddress(), sa.GetPortValue(), nil
}

func adsSource(cs *corev3.ConfigSource, path string) error {
	if cs == nil {
		return fmt.Errorf("%s: missing", path)
	}
	if err := xdscontract.OnlyFields(cs, path, "ads", "resource_api_version", "initial_fetch_timeout"); err != nil {
		return err
	}
	if cs.GetAds() == nil {
		return xdscontract.Unsupported(path, "config source must be ads")
	}
	if v := cs.GetResourceApiVersion(); v != corev3.ApiVersion_AUTO && v != corev3.ApiVersion_V3 {
		return xdscontract.Unsupported(path+".resource_api_version", "%v", v)
	}
	return nil
}

// ParseRouteConfiguration converts a RouteConfiguration, failing on
// anything unsupported.
func ParseRouteConfiguration(rc *routev3.RouteConfiguration) (*RouteTable, error) {
	p := fmt.Sprintf("route configuration %q", rc.GetName())
	if err := xdscontract.OnlyFields(rc, p, "name", "virtual_hosts", "validate_clusters"); err != nil {
		return nil, err
	}
	out := &RouteTable{Name: rc.GetName()}
	for i, vh := range rc.GetVirtualHosts() {
		vp := fmt.Sprintf("%s.virtual_hosts[%d]", p, i)
		if err := xdscontract.OnlyFields(vh, vp, "name", "domains", "routes"); err != nil {
			return nil, err
		}
		if len(vh.GetDomains()) == 0 {
			return nil, fmt.Errorf("%s.domains: empty", vp)
		}
		v := &VirtualHost{Name: vh.GetName(), Domains: vh.GetDomains()}
		for j, r := range vh.GetRoutes() {
			rt, err := xdscontract.DecodeRoute(r, fmt.Sprintf("%s.routes[%d]", vp, j))
			if err != nil {
				return nil, err
			}
			v.Routes = append(v.Routes, rt)
		}
		out.VirtualHosts = append(out.VirtualHosts, v)
	}
	return out, nil
}
