package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gammaproof/gammaproof/impl/model"
)

// Snapshot is the result of [Translate].
type Snapshot struct {
	// Resources holds the listeners, route configurations, clusters and
	// cluster load assignments. Each type has its own version, the hash of
	// that type's content, so a change to endpoints does not resend
	// listeners. Resources share sub-messages with each other and with
	// other snapshots: they must not be modified.
	Resources *cache.Snapshot
	// Version is the hash of all resources: equal meshes give equal
	// versions.
	Version string
	// Warnings name the parts of the mesh that could not be expressed and
	// what was done instead (a route dropped or answered 500), sorted.
	Warnings []string
}

// Translate turns the mesh into xDS resources following the resource
// conventions of the implementation contract. It is pure and deterministic.
// A route that cannot be expressed does not fail the whole mesh: a route
// whose match is invalid (a bad regex, a bad header name) is left out, a
// route whose action is invalid answers 500, and each case is named in
// [Snapshot.Warnings]. Every resource returned passes [Validate]: Translate
// runs ValidateAll on each resource and validates what it packs into Anys
// before packing (routes and load assignments hold no Anys), which is
// cheaper than unpacking them again; the tests run [Validate] on the
// output. The snapshot is consistent by construction, for the same reason
// not checked with Snapshot.Consistent (which unpacks every listener): each
// listener takes its routes from the route configuration of its own name,
// each EDS cluster its endpoints from the load assignment of its own name,
// and names are unique. [Server.Update] checks it before serving.
//
// Translate returns an error only when the mesh as a whole cannot be served
// (more listeners than ports, duplicate or invalid names). A nil mesh is
// empty.
func Translate(m *model.Mesh) (*Snapshot, error) {
	if m == nil {
		m = &model.Mesh{}
	}
	// Checks that need the whole mesh run first, in order; the per-resource
	// work then runs in parallel into indexed slots, so the result does not
	// depend on scheduling.
	known := make(map[string]bool, len(m.Clusters))
	cs := sortedBy(m.Clusters, func(c *model.Cluster) string { return c.Name })
	for _, c := range cs {
		if c.Name == "" || strings.HasPrefix(c.Name, InvalidClusterPrefix) {
			return nil, fmt.Errorf("translate cluster of %s port %d: name %q is empty or reserved", c.Service, c.Port, c.Name)
		}
		if known[c.Name] {
			return nil, fmt.Errorf("translate cluster %q: duplicate name", c.Name)
		}
		known[c.Name] = true
	}
	ls := sortedBy(m.Listeners, func(l *model.Listener) string { return l.Name })
	names := make([]string, len(ls))
	for i, l := range ls {
		if l.Name == "" {
			return nil, fmt.Errorf("translate listener for %s port %d: empty name", l.Service, l.Port)
		}
		if i > 0 && names[i-1] == l.Name {
			return nil, fmt.Errorf("translate listener %q: duplicate name", l.Name)
		}
		if l.Port <= 0 || l.Port > math.MaxUint16 {
			return nil, fmt.Errorf("translate listener %q: Service port %d out of range 1-65535", l.Name, l.Port)
		}
		names[i] = l.Name
	}
	ports, err := AllocatePorts(names)
	if err != nil {
		return nil, fmt.Errorf("translate listeners: %w", err)
	}

	// Two resources per slot: cluster + endpoints, listener + routes.
	type slot struct {
		res      [2]types.Resource
		sum      [2][sha256.Size]byte
		warnings []string
		err      error
	}
	cslots := make([]slot, len(cs))
	lslots := make([]slot, len(ls))
	parallel(len(cs)+len(ls), func(i int) {
		if i < len(cs) {
			sl := &cslots[i]
			t := translator{clusters: known}
			sl.res[0], sl.res[1], sl.err = t.cluster(cs[i])
			if sl.err == nil {
				sl.sum, sl.err = digests(sl.res)
			}
			sl.warnings = t.warnings
			return
		}
		i -= len(cs)
		sl := &lslots[i]
		t := translator{clusters: known}
		sl.res[0], sl.res[1], sl.err = t.listener(ls[i], ports[ls[i].Name])
		if sl.err == nil {
			sl.sum, sl.err = digests(sl.res)
		}
		sl.warnings = t.warnings
	})

	var warnings []string
	clusters, endpoints := make([]types.Resource, 0, len(cs)), make([]types.Resource, 0, len(cs))
	listeners, routes := make([]types.Resource, 0, len(ls)), make([]types.Resource, 0, len(ls))
	var hashes [types.UnknownType]hash.Hash
	for typ := range hashes {
		hashes[typ] = sha256.New()
	}
	collect := func(slots []slot, a, b types.ResponseType, as, bs *[]types.Resource) error {
		for _, sl := range slots {
			if sl.err != nil {
				return sl.err
			}
			*as = append(*as, sl.res[0])
			*bs = append(*bs, sl.res[1])
			hashes[a].Write(sl.sum[0][:])
			hashes[b].Write(sl.sum[1][:])
			warnings = append(warnings, sl.warnings...)
		}
		return nil
	}
	if err := collect(cslots, types.Cluster, types.Endpoint, &clusters, &endpoints); err != nil {
		return nil, err
	}
	if err := collect(lslots, types.Listener, types.Route, &listeners, &routes); err != nil {
		return nil, err
	}

	snap := &cache.Snapshot{}
	all := sha256.New()
	for typ, items := range map[types.ResponseType][]types.Resource{
		types.Cluster: clusters, types.Endpoint: endpoints, types.Listener: listeners, types.Route: routes,
	} {
		v := hex.EncodeToString(hashes[typ].Sum(nil))[:16]
		snap.Resources[typ] = cache.NewResources(v, items)
	}
	for _, typ := range []types.ResponseType{types.Cluster, types.Endpoint, types.Listener, types.Route} {
		all.Write([]byte(snap.Resources[typ].Version))
	}
	slices.Sort(warnings)
	return &Snapshot{Resources: snap, Version: hex.EncodeToString(all.Sum(nil))[:16], Warnings: warnings}, nil
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines and waits.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// cluster translates one cluster into its Cluster and ClusterLoadAssignment.
func (t *translator) cluster(c *model.Cluster) (types.Resource, types.Resource, error) {
	cl, err := makeCluster(c.Name, c.Protocol == model.ProtocolH2C)
	if err != nil {
		return nil, nil, fmt.Errorf("translate cluster %q: %w", c.Name, err)
	}
	if err := cl.ValidateAll(); err != nil {
		return nil, nil, fmt.Errorf("translate cluster %q: %w", c.Name, err)
	}
	eps := make([]hostPort, 0, len(c.Endpoints))
	for _, ep := range c.Endpoints {
		addr, err := netip.ParseAddr(ep.Address)
		if err != nil || ep.Port <= 0 || ep.Port > math.MaxUint16 {
			t.warnf("cluster %s: endpoint %q port %d left out: not an IP address and port", c.Name, ep.Address, ep.Port)
			continue
		}
		eps = append(eps, hostPort{Host: canonicalIP(ep.Address, addr), Port: uint32(ep.Port)})
	}
	cla := makeEndpoints(c.Name, eps)
	if err := cla.ValidateAll(); err != nil {
		return nil, nil, fmt.Errorf("translate endpoints %q: %w", c.Name, err)
	}
	return cl, cla, nil
}

// canonicalIP returns addr, parsed from s, as addr.String() does, without
// allocating in the common case: netip parses only the canonical dotted
// decimal form as an IPv4 address, so s is already canonical then.
func canonicalIP(s string, addr netip.Addr) string {
	if addr.Is4() {
		return s
	}
	return addr.String()
}

// listener translates one listener into its Listener and
// RouteConfiguration.
func (t *translator) listener(l *model.Listener, port uint32) (types.Resource, types.Resource, error) {
	vips := make([]string, 0, len(l.VIPs))
	for _, v := range l.VIPs {
		addr, err := netip.ParseAddr(v)
		if err != nil {
			t.warnf("listener %s: VIP %q left out: not an IP address", l.Name, v)
			continue
		}
		vips = append(vips, canonicalIP(v, addr))
	}
	ln, err := makeListener(l.Name, port, Steering{
		VIPs:            vips,
		ServicePort:     uint32(l.Port),
		CallerNamespace: l.CallerNamespace,
		Service:         l.Service.String(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("translate listener %q: %w", l.Name, err)
	}
	if err := ln.ValidateAll(); err != nil {
		return nil, nil, fmt.Errorf("translate listener %q: %w", l.Name, err)
	}
	rs := make([]*route.Route, 0, len(l.Routes))
	for i := range l.Routes {
		if r := t.route(l, &l.Routes[i]); r != nil {
			rs = append(rs, r)
		}
	}
	// Each route was validated on its own; validate the rest of the route
	// configuration before adding them, so its routes are not walked again.
	rc := makeRouteConfiguration(l.Name, nil)
	if err := rc.ValidateAll(); err != nil {
		return nil, nil, fmt.Errorf("translate route configuration %q: %w", l.Name, err)
	}
	rc.VirtualHosts[0].Routes = rs
	return ln, rc, nil
}

// marshalBuffers recycles the encoding buffers of [digests].
var marshalBuffers = sync.Pool{New: func() any { return new([]byte) }}

// digests hashes the deterministic encoding of each resource.
func digests(res [2]types.Resource) ([2][sha256.Size]byte, error) {
	var out [2][sha256.Size]byte
	opts := proto.MarshalOptions{Deterministic: true}
	buf := marshalBuffers.Get().(*[]byte)
	defer marshalBuffers.Put(buf)
	for i, r := range res {
		b, err := opts.MarshalAppend((*buf)[:0], r)
		if err != nil {
			return out, fmt.Errorf("hash %s: %w", cache.GetResourceName(r), err)
		}
		*buf = b
		out[i] = sha256.Sum256(b)
	}
	return out, nil
}

// maxRetries caps a rule's retry attempts.
const maxRetries = 1000

// translator carries what route translation needs across listeners.
type translator struct {
	clusters map[string]bool // cluster names in the snapshot.
	warnings []string
}

func (t *translator) warnf(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

// route translates one route; nil when its match cannot be expressed.
func (t *translator) route(l *model.Listener, r *model.Route) *route.Route {
	match, err := routeMatch(r.Match)
	if err != nil {
		t.warnf("listener %s: route %s left out: %v", l.Name, r.Name, err)
		return nil
	}
	out, err := t.routeAction(l, r, match)
	if err == nil {
		err = out.ValidateAll()
	}
	if err != nil {
		if merr := match.ValidateAll(); merr != nil {
			t.warnf("listener %s: route %s left out: %v", l.Name, r.Name, merr)
			return nil
		}
		t.warnf("listener %s: route %s answers 500: %v", l.Name, r.Name, err)
		out = &route.Route{Name: r.Name, Match: match, Action: directResponse(500)}
	}
	return out
}

// routeMatch lowers a model match to Envoy's.
func routeMatch(m model.Match) (*route.RouteMatch, error) {
	out := &route.RouteMatch{}
	switch m.PathType {
	case model.PathExact:
		pathExact(out, m.PathValue)
	case model.PathPrefix, "":
		pathPrefix(out, m.PathValue)
	case model.PathRegex:
		if err := checkRegex(m.PathValue); err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		pathRegex(out, m.PathValue)
	default:
		return nil, fmt.Errorf("path match type %q is not Exact, PathPrefix or RegularExpression", m.PathType)
	}
	for _, h := range m.Headers {
		if h.Regex {
			if err := checkRegex(h.Value); err != nil {
				return nil, fmt.Errorf("header %q: %w", h.Name, err)
			}
		}
		out.Headers = append(out.Headers, headerMatcher(strings.ToLower(h.Name), h.Value, h.Regex))
	}
	if m.Method != "" {
		out.Headers = append(out.Headers, headerMatcher(":method", m.Method, false))
	}
	for _, q := range m.QueryParams {
		if q.Regex {
			if err := checkRegex(q.Value); err != nil {
				return nil, fmt.Errorf("query parameter %q: %w", q.Name, err)
			}
		}
		out.QueryParameters = append(out.QueryParameters, queryMatcher(q.Name, q.Value, q.Regex))
	}
	return out, nil
}

// checkRegex rejects what RE2 (Envoy's and Go's regex engine) cannot
// compile.
func checkRegex(re string) error {
	if re == "" {
		return errors.New("empty regular expression")
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("compile regular expression: %w", err)
	}
	return nil
}

// routeAction builds the route for r around match.
func (t *translator) routeAction(l *model.Listener, r *model.Route, match *route.RouteMatch) (*route.Route, error) {
	out := &route.Route{
		Name:                    r.Name,
		Match:                   match,
		RequestHeadersToAdd:     headerValues(pairs(r.RequestHeaders.Set), pairs(r.RequestHeaders.Add)),
		RequestHeadersToRemove:  r.RequestHeaders.Remove,
		ResponseHeadersToAdd:    headerValues(pairs(r.ResponseHeaders.Set), pairs(r.ResponseHeaders.Add)),
		ResponseHeadersToRemove: r.ResponseHeaders.Remove,
	}
	if r.Redirect != nil {
		ra, err := redirectAction(r.Redirect, r.Match)
		if err != nil {
			return nil, err
		}
		out.Action = &route.Route_Redirect{Redirect: ra}
		return out, nil
	}
	if r.DirectResponse500 {
		out.Action = directResponse(500)
		return out, nil
	}

	var entries []weightedCluster
	if len(r.Backends) == 0 {
		// A rule without backendRefs forwards to the parent Service itself
		// (implementation-specific, see DESIGN.md).
		if l.ParentCluster == "" {
			return nil, errors.New("rule has no backends and the listener has no parent cluster")
		}
		entries = []weightedCluster{{Name: l.ParentCluster, Weight: 1}}
	}
	var total uint64
	for _, b := range r.Backends {
		total += uint64(b.Weight)
	}
	for i, b := range r.Backends {
		name := b.Cluster
		if b.Invalid != "" || b.Cluster == "" {
			reason := b.Invalid
			if reason == "" {
				reason = "BackendNotFound"
			}
			name = InvalidClusterName(reason, i)
		}
		w := b.Weight
		if total > math.MaxUint32 && w > 0 {
			// Envoy needs the sum of weights to fit in 32 bits; scaling keeps
			// the proportions, and halving leaves room for the weights the
			// max(1, ...) rounds up.
			w = uint32(max(1, uint64(w)*math.MaxUint32/total/2))
		}
		entries = append(entries, weightedCluster{
			Name:                   name,
			Weight:                 w,
			RequestHeadersToAdd:    headerValues(pairs(b.RequestHeaders.Set), pairs(b.RequestHeaders.Add)),
			RequestHeadersToRemove: b.RequestHeaders.Remove,
			ResponseHeadersToAdd:   headerValues(pairs(b.ResponseHeaders.Set), pairs(b.ResponseHeaders.Add)),
			ResponseHeadersToRemv:  b.ResponseHeaders.Remove,
		})
	}
	if !slices.ContainsFunc(entries, func(e weightedCluster) bool { return e.Weight > 0 }) {
		// Every backend has weight 0: the spec says such requests get 500.
		out.Action = directResponse(500)
		return out, nil
	}
	action := &route.RouteAction{
		ClusterSpecifier:            weightedClusters(entries),
		ClusterNotFoundResponseCode: route.RouteAction_INTERNAL_SERVER_ERROR,
		// Always set: Envoy's default is 15s; 0 disables the timeout.
		Timeout: durationpb.New(max(0, r.Timeouts.Request)),
	}
	if r.Retry != nil || r.Timeouts.BackendRequest > 0 {
		var retries uint32
		var codes []uint32
		var backoff time.Duration
		if r.Retry != nil {
			// Clamped: an absurd attempt count must not become a retry storm.
			retries = uint32(max(0, min(r.Retry.Attempts, maxRetries)))
			for _, c := range r.Retry.Codes {
				if c < 100 || c > 599 {
					return nil, fmt.Errorf("retry status code %d is not in 100-599", c)
				}
				codes = append(codes, uint32(c))
			}
			backoff = r.Retry.Backoff
		}
		action.RetryPolicy = retryPolicy(retries, codes, r.Timeouts.BackendRequest, backoff)
	} else {
		action.RetryPolicy = defaultRetryPolicy
	}
	for _, mr := range r.Mirrors {
		if mr.Numerator <= 0 || mr.Denominator <= 0 {
			continue // mirrors nothing.
		}
		if !t.clusters[mr.Cluster] {
			t.warnf("listener %s: route %s: mirror to %q left out: no such cluster", l.Name, r.Name, mr.Cluster)
			continue
		}
		action.RequestMirrorPolicies = append(action.RequestMirrorPolicies,
			mirrorPolicy(mr.Cluster, int64(mr.Numerator), int64(mr.Denominator)))
	}
	if rw := r.Rewrite; rw != nil {
		if rw.Hostname != nil {
			action.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: *rw.Hostname}
		}
		if rw.Path != nil {
			switch rw.Path.Type {
			case model.ReplaceFullPath:
				fullPathRewrite(action, rw.Path.Value)
			case model.ReplacePrefixMatch:
				if r.Match.PathType != model.PathPrefix && r.Match.PathType != "" {
					return nil, fmt.Errorf("ReplacePrefixMatch needs a PathPrefix match, not %s", r.Match.PathType)
				}
				prefixRewrite(action, r.Match.PathValue, rw.Path.Value)
			default:
				return nil, fmt.Errorf("path rewrite type %q is not ReplaceFullPath or ReplacePrefixMatch", rw.Path.Type)
			}
		}
	}
	out.Action = &route.Route_Route{Route: action}
	return out, nil
}

// redirectAction lowers a RequestRedirect filter.
func redirectAction(rd *model.Redirect, m model.Match) (*route.RedirectAction, error) {
	code, err := redirectCode(rd.StatusCode)
	if err != nil {
		return nil, err
	}
	ra := &route.RedirectAction{ResponseCode: code}
	if rd.Scheme != nil {
		ra.SchemeRewriteSpecifier = &route.RedirectAction_SchemeRedirect{SchemeRedirect: *rd.Scheme}
	}
	if rd.Hostname != nil {
		ra.HostRedirect = *rd.Hostname
	}
	if rd.Port != nil {
		if *rd.Port <= 0 || *rd.Port > math.MaxUint16 {
			return nil, fmt.Errorf("redirect port %d out of range 1-65535", *rd.Port)
		}
		ra.PortRedirect = uint32(*rd.Port)
	}
	if rd.Path != nil {
		switch rd.Path.Type {
		case model.ReplaceFullPath:
			ra.PathRewriteSpecifier = &route.RedirectAction_PathRedirect{PathRedirect: rd.Path.Value}
		case model.ReplacePrefixMatch:
			if m.PathType != model.PathPrefix && m.PathType != "" {
				return nil, fmt.Errorf("ReplacePrefixMatch needs a PathPrefix match, not %s", m.PathType)
			}
			var a route.RouteAction
			prefixRewrite(&a, m.PathValue, rd.Path.Value)
			if a.RegexRewrite != nil {
				ra.PathRewriteSpecifier = &route.RedirectAction_RegexRewrite{RegexRewrite: a.RegexRewrite}
			} else {
				ra.PathRewriteSpecifier = &route.RedirectAction_PrefixRewrite{PrefixRewrite: a.PrefixRewrite}
			}
		default:
			return nil, fmt.Errorf("redirect path type %q is not ReplaceFullPath or ReplacePrefixMatch", rd.Path.Type)
		}
	}
	return ra, nil
}

func pairs(hs []model.Header) [][2]string {
	if len(hs) == 0 {
		return nil
	}
	out := make([][2]string, len(hs))
	for i, h := range hs {
		out[i] = [2]string{h.Name, h.Value}
	}
	return out
}

// sortedBy returns pointers to the elements of s sorted by key (stable, so
// equal keys keep their order; Translate rejects duplicates anyway).
func sortedBy[T any](s []T, key func(*T) string) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	slices.SortStableFunc(out, func(a, b *T) int { return strings.Compare(key(a), key(b)) })
	return out
}
