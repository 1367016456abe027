package model

// svcPortKey is a Service port a route attaches to.
type svcPortKey struct {
	ns, name string
	port     int32
}

// groupKey is one listener: a Service port and a caller namespace ("" = any).
type groupKey struct {
	svcPortKey
	caller string
}

// attachment is one route rule table attached to a listener.
type attachment struct {
	route *routeObj
	// parent is the index of the parent status entry in route.parents.
	parent int
}

// attach groups the accepted parents of routes by the listener they apply
// to: a producer route (in the Service's namespace) to every caller, a
// consumer route only to callers in its own namespace (GEP-1294). A route
// attaches to a listener once, however many of its parentRefs select it.
func attach(routes []*routeObj) map[groupKey][]attachment {
	groups := make(map[groupKey][]attachment, len(routes))
	var attached map[groupKey]bool // listeners of the current route.
	for _, r := range routes {
		// One parent's ports are distinct (checkParent compacts them); only
		// two parentRefs of a route can select the same port.
		multi := len(r.parents) > 1
		if multi {
			clear(attached)
			if attached == nil {
				attached = map[groupKey]bool{}
			}
		}
		for pi := range r.parents {
			p := &r.parents[pi]
			if !p.accepted {
				continue
			}
			for _, port := range p.ports {
				k := r.listenerKey(p, port)
				if multi {
					if attached[k] {
						continue // two parentRefs of the route select the same port.
					}
					attached[k] = true
				}
				groups[k] = append(groups[k], attachment{route: r, parent: pi})
			}
		}
	}
	return groups
}

// listenerKey is the listener r applies to through port of its parent p.
func (r *routeObj) listenerKey(p *parentObj, port int32) groupKey {
	k := groupKey{svcPortKey{p.svc.Namespace, p.svc.Name, port}, ""}
	if r.ns != p.svc.Namespace {
		k.caller = r.ns // GEP-1294: consumer routes only apply to their own namespace.
	}
	return k
}
