package node

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1listers "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// listerLookup is the [ServiceLookup] of a running node: Services and
// EndpointSlices from informers, pod addresses from the node's own pods.
type listerLookup struct {
	services  corev1listers.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	namespace func(netip.Addr) (string, bool)
}

var _ ServiceLookup = (*listerLookup)(nil)

func (l *listerLookup) Service(ns, name string) ([]netip.Addr, bool) {
	svc, err := l.services.Services(ns).Get(name)
	if err != nil {
		return nil, false
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, true
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != "" {
		var ips []netip.Addr
		for _, s := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
			if ip, err := netip.ParseAddr(s); err == nil && !containsAddr(ips, ip) {
				ips = append(ips, ip)
			}
		}
		return ips, true
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	list, err := l.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return nil, true
	}
	var ips []netip.Addr
	for _, es := range list {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && !containsAddr(ips, ip) {
					ips = append(ips, ip)
				}
			}
		}
	}
	return ips, true
}

func (l *listerLookup) Namespace(ip netip.Addr) (string, bool) {
	if l.namespace == nil {
		return "", false
	}
	return l.namespace(ip)
}

func containsAddr(list []netip.Addr, ip netip.Addr) bool {
	for _, x := range list {
		if x == ip {
			return true
		}
	}
	return false
}
