package model

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// servicePort returns the TCP port port of svc; a port with only the number
// set when svc is nil or has no such port.
func servicePort(svc *corev1.Service, port int32) corev1.ServicePort {
	if svc == nil {
		return corev1.ServicePort{Port: port}
	}
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Port == port && protocolOK(p.Protocol) {
			return *p
		}
	}
	return corev1.ServicePort{Port: port}
}

// upstreamProtocol is how routes of kind speak to the endpoints of Service
// port sp: h2c for a GRPCRoute and for an appProtocol of kubernetes.io/h2c
// or grpc, else HTTP/1.1. It depends only on the route's kind and the
// Service, so [ClusterName] can carry it.
func upstreamProtocol(kind string, sp corev1.ServicePort) Protocol {
	if kind == kindGRPCRoute {
		return ProtocolH2C
	}
	switch deref(sp.AppProtocol) {
	case "kubernetes.io/h2c", "grpc":
		return ProtocolH2C
	}
	return ProtocolHTTP1
}

// protocolOK reports whether a port protocol is TCP ("" defaults to TCP).
func protocolOK(p corev1.Protocol) bool { return p == "" || p == corev1.ProtocolTCP }

// hasVIP reports whether vips(svc) is not empty.
func hasVIP(svc *corev1.Service) bool {
	isVIP := func(ip string) bool { return ip != "" && ip != corev1.ClusterIPNone }
	return slices.ContainsFunc(svc.Spec.ClusterIPs, isVIP) || isVIP(svc.Spec.ClusterIP)
}

// vips returns the distinct ClusterIPs of svc, sorted; nil when headless.
func vips(svc *corev1.Service) []string {
	out := make([]string, 0, len(svc.Spec.ClusterIPs)+1)
	add := func(ip string) {
		if ip != "" && ip != corev1.ClusterIPNone && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	for _, ip := range svc.Spec.ClusterIPs {
		add(ip)
	}
	add(svc.Spec.ClusterIP)
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return out
}

// portNamed returns the number of the TCP port of svc named name.
func portNamed(svc *corev1.Service, name string) (int32, bool) {
	for _, sp := range svc.Spec.Ports {
		if sp.Name == name && protocolOK(sp.Protocol) {
			return sp.Port, true
		}
	}
	return 0, false
}

// describePorts lists the TCP ports of svc as "name (number)", or the
// number alone for an unnamed port, in spec order; "none" when there are
// none.
func describePorts(svc *corev1.Service) string {
	var out []string
	for _, sp := range svc.Spec.Ports {
		if !protocolOK(sp.Protocol) {
			continue
		}
		n := strconv.Itoa(int(sp.Port))
		if sp.Name != "" {
			n = sp.Name + " (" + n + ")"
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
