package model

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// index holds lookups over Input.
type index struct {
	services map[string]*corev1.Service              // "ns/name"
	slices   map[string][]*discoveryv1.EndpointSlice // "ns/service"
	grants   map[string][]*gwv1beta1.ReferenceGrant  // namespace
	policy   grantpolicy.Policy
}

func newIndex(in Input) *index {
	idx := &index{
		services: make(map[string]*corev1.Service, len(in.Services)),
		slices:   make(map[string][]*discoveryv1.EndpointSlice, len(in.EndpointSlices)),
		grants:   map[string][]*gwv1beta1.ReferenceGrant{},
		policy:   in.GrantPolicy,
	}
	for i := range in.Services {
		s := &in.Services[i]
		idx.services[s.Namespace+"/"+s.Name] = s
	}
	for i := range in.EndpointSlices {
		es := &in.EndpointSlices[i]
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := es.Namespace + "/" + svc
		idx.slices[k] = append(idx.slices[k], es)
	}
	for i := range in.ReferenceGrants {
		g := &in.ReferenceGrants[i]
		idx.grants[g.Namespace] = append(idx.grants[g.Namespace], g)
	}
	return idx
}

// granted reports whether a route of kind in fromNS may reference the
// Service toNS/toName under the grant policy. Same-namespace references
// never need a grant.
func (idx *index) granted(kind, fromNS, toNS, toName string) bool {
	if fromNS == toNS || idx.policy != grantpolicy.Strict {
		return true
	}
	for _, g := range idx.grants[toNS] {
		from := slices.ContainsFunc(g.Spec.From, func(f gwv1beta1.ReferenceGrantFrom) bool {
			return f.Group == "gateway.networking.k8s.io" && string(f.Kind) == kind && string(f.Namespace) == fromNS
		})
		if !from {
			continue
		}
		to := slices.ContainsFunc(g.Spec.To, func(t gwv1beta1.ReferenceGrantTo) bool {
			return (t.Group == "" || t.Group == "core") && t.Kind == kindService && (t.Name == nil || string(*t.Name) == toName)
		})
		if to {
			return true
		}
	}
	return false
}

// service returns the Service s, nil when there is none.
func (idx *index) service(s ServiceRef) *corev1.Service {
	// Not s.String(): a key concatenated in the index expression does not
	// escape, so it needs no allocation.
	return idx.services[s.Namespace+"/"+s.Name]
}

// endpoints returns the ready endpoints of a Service port, sorted.
func (idx *index) endpoints(s ServiceRef, sp corev1.ServicePort) []Endpoint {
	var out []Endpoint
	for _, es := range idx.slices[s.Namespace+"/"+s.Name] {
		if out == nil && len(es.Endpoints) > 0 {
			out = make([]Endpoint, 0, len(es.Endpoints))
		}
		if es.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var port int32
		found := false
		for _, p := range es.Ports {
			if deref(p.Name) == sp.Name && (p.Protocol == nil || protocolOK(*p.Protocol)) && p.Port != nil {
				port, found = *p.Port, true
				break
			}
		}
		if !found {
			continue
		}
		for _, ep := range es.Endpoints {
			// EndpointConditions.Ready: "nil should be interpreted as ready".
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, Endpoint{Address: a, Port: port})
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(out)
}
