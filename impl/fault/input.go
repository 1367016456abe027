package fault

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// maxWeight is the largest backendRef weight the API allows.
const maxWeight = 1_000_000

// zeroWeightOnePercent gives each weight-0 backendRef of a rule that also
// has weighted ones 1% of the rule's requests.
func zeroWeightOnePercent(in *model.Input) {
	in.HTTPRoutes = slices.Clone(in.HTTPRoutes)
	for i := range in.HTTPRoutes {
		hr := in.HTTPRoutes[i].DeepCopy()
		for _, rule := range hr.Spec.Rules {
			var sum, zeros int64
			for _, b := range rule.BackendRefs {
				switch {
				case b.Weight == nil:
					sum++
				case *b.Weight == 0:
					zeros++
				default:
					sum += int64(*b.Weight)
				}
			}
			if zeros == 0 || sum == 0 || sum*(100-zeros) > maxWeight {
				continue
			}
			// Each zero gets sum, the others weight·(100-zeros): the zeros'
			// share is sum/(100·sum) = 1% each.
			for j := range rule.BackendRefs {
				w := int64(1)
				if b := rule.BackendRefs[j].Weight; b != nil {
					w = int64(*b)
				}
				nw := int32(w * (100 - zeros))
				if w == 0 {
					nw = int32(sum)
				}
				rule.BackendRefs[j].Weight = &nw
			}
		}
		in.HTTPRoutes[i] = *hr
	}
}

// parentPortIgnored drops the port of every Service parentRef, so a route
// applies to every port of its Service.
func parentPortIgnored(in *model.Input) {
	unport := func(refs []gwv1.ParentReference) {
		for i := range refs {
			if refs[i].Kind != nil && *refs[i].Kind == "Service" {
				refs[i].Port = nil
			}
		}
	}
	in.HTTPRoutes = slices.Clone(in.HTTPRoutes)
	for i := range in.HTTPRoutes {
		hr := in.HTTPRoutes[i].DeepCopy()
		unport(hr.Spec.ParentRefs)
		in.HTTPRoutes[i] = *hr
	}
	in.GRPCRoutes = slices.Clone(in.GRPCRoutes)
	for i := range in.GRPCRoutes {
		gr := in.GRPCRoutes[i].DeepCopy()
		unport(gr.Spec.ParentRefs)
		in.GRPCRoutes[i] = *gr
	}
}

// backendsWithoutGrant serves, under the strict policy, every backend the
// mesh refused for want of a ReferenceGrant, as the spec policy (no grants
// needed) would have built it.
func backendsWithoutGrant(in model.Input, m *model.Mesh) {
	if in.GrantPolicy != grantpolicy.Strict {
		return
	}
	in.GrantPolicy = grantpolicy.Spec
	open := model.Build(in)
	routes := map[string]*model.Route{}
	for i := range open.Listeners {
		l := &open.Listeners[i]
		for j := range l.Routes {
			routes[l.Name+"|"+l.Routes[j].Name] = &l.Routes[j]
		}
	}
	clusters := map[string]model.Cluster{}
	for _, c := range open.Clusters {
		clusters[c.Name] = c
	}
	have := map[string]bool{}
	for _, c := range m.Clusters {
		have[c.Name] = true
	}
	// The two builds differ only in the grant policy, so where a route's
	// backends differ, grants made the difference (a rule whose backends
	// all lack a grant has none left and answers 500).
	eachRoute(m, func(l *model.Listener, r *model.Route) {
		o := routes[l.Name+"|"+r.Name]
		if o == nil || r.Redirect != nil || reflect.DeepEqual(o.Backends, r.Backends) {
			return
		}
		r.Backends, r.DirectResponse500 = slices.Clone(o.Backends), o.DirectResponse500
		for _, b := range o.Backends {
			if b.Cluster != "" && !have[b.Cluster] {
				m.Clusters = append(m.Clusters, clusters[b.Cluster])
				have[b.Cluster] = true
			}
		}
	})
	slices.SortFunc(m.Clusters, func(a, b model.Cluster) int { return strings.Compare(a.Name, b.Name) })
}

// keepGrants returns an input change that adds every ReferenceGrant seen
// before, deleted or not.
func keepGrants() func(in *model.Input) {
	seen := map[string]gwv1beta1.ReferenceGrant{}
	return func(in *model.Input) {
		for _, g := range in.ReferenceGrants {
			seen[g.Namespace+"/"+g.Name] = *g.DeepCopy()
		}
		in.ReferenceGrants = in.ReferenceGrants[:0:0]
		for _, k := range slices.Sorted(maps.Keys(seen)) {
			in.ReferenceGrants = append(in.ReferenceGrants, seen[k])
		}
	}
}

// keepRoutes returns an input change that adds every HTTPRoute and
// GRPCRoute seen before, deleted or not (each as last seen).
func keepRoutes() func(in *model.Input) {
	http := map[string]gwv1.HTTPRoute{}
	grpc := map[string]gwv1.GRPCRoute{}
	return func(in *model.Input) {
		in.HTTPRoutes = union(http, in.HTTPRoutes, func(r *gwv1.HTTPRoute) string { return r.Namespace + "/" + r.Name })
		in.GRPCRoutes = union(grpc, in.GRPCRoutes, func(r *gwv1.GRPCRoute) string { return r.Namespace + "/" + r.Name })
	}
}

// union records cur in seen and returns everything seen, sorted by key.
func union[T any](seen map[string]T, cur []T, key func(*T) string) []T {
	for i := range cur {
		seen[key(&cur[i])] = cur[i]
	}
	keys := slices.SortedFunc(maps.Keys(seen), func(a, b string) int { return cmp.Compare(a, b) })
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, seen[k])
	}
	return out
}
