package model

import (
	"slices"

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
