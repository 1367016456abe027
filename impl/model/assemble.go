package model

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// assemble turns the attached routes into the mesh's listeners, each with
// its routes in match precedence order, and the clusters they forward or
// mirror to. Both are sorted by name.
func assemble(groups map[groupKey][]attachment, idx *index) *Mesh {
	m := &Mesh{}
	clusters := make(map[string]*Cluster, len(groups))
	keys := sortedKeys(groups)
	// entries is reused across listeners: its routes are copied out.
	var entries []entry
	for _, k := range keys {
		atts := groups[k]
		if len(atts) == 0 {
			continue
		}
		svc := idx.service(ServiceRef{k.ns, k.name})
		sp := servicePort(svc, k.port)
		l := Listener{
			Name:            listenerName(k),
			Service:         ServiceRef{k.ns, k.name},
			Port:            k.port,
			PortName:        sp.Name,
			AppProtocol:     deref(sp.AppProtocol),
			VIPs:            vips(svc),
			CallerNamespace: k.caller,
		}
		// One listener holds routes of one kind (displace.go).
		kind := atts[0].route.kind
		l.ParentCluster = ClusterName(l.Service, k.port, upstreamProtocol(kind, sp))
		addCluster(clusters, idx, l.ParentCluster, l.Service, k.port, kind)
		entries = entries[:0]
		for _, a := range atts {
			entries = a.route.appendEntries(entries, l.Service, k.port, l.ParentCluster)
		}
		sortEntries(entries)
		if len(entries) > 0 {
			l.Routes = make([]Route, 0, len(entries))
		}
		for _, e := range entries {
			for _, b := range e.route.Backends {
				if b.Cluster != "" {
					addCluster(clusters, idx, b.Cluster, b.Service, b.Port, e.r.kind)
				}
			}
			for _, mi := range e.route.Mirrors {
				addCluster(clusters, idx, mi.Cluster, mi.Service, mi.Port, e.r.kind)
			}
			l.Routes = append(l.Routes, e.route)
		}
		if m.Listeners == nil {
			m.Listeners = make([]Listener, 0, len(keys))
		}
		m.Listeners = append(m.Listeners, l)
	}
	if len(clusters) > 0 {
		m.Clusters = make([]Cluster, 0, len(clusters))
	}
	for _, c := range clusters {
		m.Clusters = append(m.Clusters, *c)
	}
	slices.SortFunc(m.Clusters, func(a, b Cluster) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(m.Listeners, func(a, b Listener) int { return strings.Compare(a.Name, b.Name) })
	return m
}

// sortedKeys returns the listeners of groups by Service, port and caller.
func sortedKeys(groups map[groupKey][]attachment) []groupKey {
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		// Not cmp.Or, which would compare every field every time.
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.port, b.port); c != 0 {
			return c
		}
		return strings.Compare(a.caller, b.caller)
	})
	return keys
}

// ClusterName is the cluster name of a Service port spoken to with
// protocol p: "svc~<ns>~<name>~<port>~<p>". Everything in a [Cluster] is a
// function of its name and the Service: routes of different kinds (and so
// of different namespaces) that reach the same Service port with
// different protocols get different clusters, and no route changes a
// cluster another route uses.
func ClusterName(s ServiceRef, port int32, p Protocol) string {
	return "svc~" + s.Namespace + "~" + s.Name + "~" + strconv.Itoa(int(port)) + "~" + string(p)
}

func listenerName(k groupKey) string {
	n := "mesh~" + k.ns + "~" + k.name + "~" + strconv.Itoa(int(k.port))
	if k.caller != "" {
		n += "~from~" + k.caller
	}
	return n
}

// addCluster adds the cluster name, the [ClusterName] of s and port for
// routes of kind, unless present. A present cluster is never changed: its
// name already says everything about it.
func addCluster(clusters map[string]*Cluster, idx *index, name string, s ServiceRef, port int32, kind string) {
	if _, ok := clusters[name]; ok {
		return
	}
	sp := servicePort(idx.service(s), port)
	clusters[name] = &Cluster{Name: name, Service: s, Port: port, PortName: sp.Name,
		Protocol: upstreamProtocol(kind, sp), Endpoints: idx.endpoints(s, sp)}
}
