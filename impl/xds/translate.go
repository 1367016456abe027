package xds

import (
	"crypto/sha256"
	"encoding/hex"
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

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/xdscontract"
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
	cs := sortedBy(m.Clusters, func(c *model.Cluster) string { return c.Name })
	known, err := clusterNames(cs)
	if err != nil {
		return nil, err
	}
	ls := sortedBy(m.Listeners, func(l *model.Listener) string { return l.Name })
	ports, err := listenerPorts(ls)
	if err != nil {
		return nil, err
	}
	cslots, lslots := translateSlots(cs, ls, known, ports)
	return assemble(cslots, lslots)
}

// clusterNames returns the set of the clusters' names, sorted clusters cs,
// failing on an empty, reserved or duplicate name.
func clusterNames(cs []*model.Cluster) (map[string]bool, error) {
	known := make(map[string]bool, len(cs))
	for _, c := range cs {
		if c.Name == "" || strings.HasPrefix(c.Name, InvalidClusterPrefix) {
			return nil, fmt.Errorf("translate cluster of %s port %d: name %q is empty or reserved", c.Service, c.Port, c.Name)
		}
		if known[c.Name] {
			return nil, fmt.Errorf("translate cluster %q: duplicate name", c.Name)
		}
		known[c.Name] = true
	}
	return known, nil
}

// listenerPorts checks the names and Service ports of the sorted
// listeners ls and allocates each its proxy port.
func listenerPorts(ls []*model.Listener) (map[string]uint32, error) {
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
	return ports, nil
}

// slot is what translating one cluster (cluster + endpoints) or one
// listener (listener + routes) yields: two resources and their digests,
// or an error.
type slot struct {
	res      [2]types.Resource
	sum      [2][sha256.Size]byte
	warnings []string
	err      error
}

// translateSlots translates each cluster and each listener, in parallel,
// into the slot of the same index.
func translateSlots(cs []*model.Cluster, ls []*model.Listener, known map[string]bool, ports map[string]uint32) ([]slot, []slot) {
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
	return cslots, lslots
}

// assemble gathers the slots, in order, into the snapshot, returning the
// first slot's error instead if any failed.
func assemble(cslots, lslots []slot) (*Snapshot, error) {
	var warnings []string
	clusters, endpoints := make([]types.Resource, 0, len(cslots)), make([]types.Resource, 0, len(cslots))
	listeners, routes := make([]types.Resource, 0, len(lslots)), make([]types.Resource, 0, len(lslots))
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
	vips := make([]netip.Addr, 0, len(l.VIPs))
	for _, v := range l.VIPs {
		addr, err := netip.ParseAddr(v)
		if err != nil {
			t.warnf("listener %s: VIP %q left out: not an IP address", l.Name, v)
			continue
		}
		vips = append(vips, addr)
	}
	ln, err := makeListener(l.Name, port, xdscontract.Steering{
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

// translator carries what route translation needs across listeners.
type translator struct {
	clusters map[string]bool // cluster names in the snapshot.
	warnings []string
}

func (t *translator) warnf(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

// route translates one route; nil when its match cannot be expressed.
// Rules the model checks (weights, retry values, regular expressions,
// ReplacePrefixMatch only after PathPrefix, every forward with backends)
// are not checked again here: the model is the one layer that checks
// them, and TestModelHandsTranslation holds it to that.
func (t *translator) route(l *model.Listener, r *model.Route) *route.Route {
	match, err := routeMatch(r.Match)
	if err != nil {
		t.warnf("listener %s: route %s left out: %v", l.Name, r.Name, err)
		return nil
	}
	var out *route.Route
	cr, err := t.contractRoute(l, r, match)
	if err == nil {
		out, err = xdscontract.EncodeRoute(cr)
	}
	if err == nil {
		if cr.Forward != nil && cr.Forward.Retry == nil {
			out.GetRoute().RetryPolicy = defaultRetryPolicy
		}
		err = out.ValidateAll()
	}
	if err != nil {
		em := xdscontract.EncodeMatch(&match)
		if merr := em.ValidateAll(); merr != nil {
			t.warnf("listener %s: route %s left out: %v", l.Name, r.Name, merr)
			return nil
		}
		t.warnf("listener %s: route %s answers 500: %v", l.Name, r.Name, err)
		out = &route.Route{Name: r.Name, Match: em, Action: &route.Route_DirectResponse{
			DirectResponse: xdscontract.EncodeDirect(&xdscontract.Direct{Status: 500}),
		}}
	}
	return out
}

// routeMatch lowers a model match to the contract's.
func routeMatch(m model.Match) (xdscontract.Match, error) {
	var out xdscontract.Match
	switch m.PathType {
	case model.PathExact:
		out.PathKind, out.Path = xdscontract.PathExact, m.PathValue
	case model.PathPrefix, "":
		// Gateway API's PathPrefix matches by path elements: "/foo"
		// matches "/foo", "/foo/" and "/foo/x" but not "/foobar". A
		// trailing "/" is ignored; "/" (or "") matches everything.
		p := strings.TrimRight(m.PathValue, "/")
		if p == "" {
			out.PathKind, out.Path = xdscontract.PathPrefix, "/"
		} else {
			out.PathKind, out.Path = xdscontract.PathSeparatedPrefix, p
		}
	case model.PathRegex:
		out.PathKind, out.Path = xdscontract.PathRegex, m.PathValue
	default:
		return out, fmt.Errorf("path match type %q is not Exact, PathPrefix or RegularExpression", m.PathType)
	}
	n := len(m.Headers)
	if m.Method != "" {
		n++
	}
	if n > 0 {
		out.Headers = make([]xdscontract.HeaderMatch, 0, n)
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, xdscontract.HeaderMatch{Name: h.Name, String: stringMatch(h)})
	}
	if m.Method != "" {
		out.Headers = append(out.Headers, xdscontract.HeaderMatch{Name: ":method", String: &xdscontract.StringMatch{Value: m.Method}})
	}
	if len(m.QueryParams) > 0 {
		out.Query = make([]xdscontract.QueryMatch, len(m.QueryParams))
		for i, q := range m.QueryParams {
			out.Query[i] = xdscontract.QueryMatch{Name: q.Name, String: stringMatch(q)}
		}
	}
	return out, nil
}

// stringMatch matches a whole value exactly or by an RE2 expression.
func stringMatch(s model.StringMatch) *xdscontract.StringMatch {
	if s.Regex {
		return &xdscontract.StringMatch{Kind: xdscontract.StringRegex, Value: s.Value}
	}
	return &xdscontract.StringMatch{Kind: xdscontract.StringExact, Value: s.Value}
}

// retryOnConnectionErrors is what Gateway API says every retry stanza
// retries on: "connection errors (disconnect, reset, timeout, TCP failure)".
const retryOnConnectionErrors = xdscontract.RetryConnectFailure | xdscontract.RetryRefusedStream | xdscontract.RetryReset

// defaultConnectRetries is how often a route without a retry stanza
// retries a connection that failed before any response. The spec leaves
// retries without a stanza to the implementation; gammaproof, like Istio,
// retries connection failures, and only for requests without side effects
// (GET, HEAD, OPTIONS), so a backend restarting between connections (the
// seed's netcat loop) does not surface as errors.
const defaultConnectRetries = 5

// defaultRetryPolicy retries connection failures and resets of safe
// requests. Every route without a retry stanza shares it: read only.
var defaultRetryPolicy = xdscontract.EncodeRetry(&xdscontract.Retry{
	On:         xdscontract.RetryConnectFailure | xdscontract.RetryReset,
	NumRetries: defaultConnectRetries,
	OnlyIf: []xdscontract.HeaderMatch{{
		Name:   ":method",
		String: &xdscontract.StringMatch{Kind: xdscontract.StringRegex, Value: "GET|HEAD|OPTIONS"},
	}},
})

// contractRoute lowers r, matching match, to the contract's route. A route
// without a retry stanza or backend request timeout gets no Retry: the
// caller attaches [defaultRetryPolicy].
func (t *translator) contractRoute(l *model.Listener, r *model.Route, match xdscontract.Match) (*xdscontract.Route, error) {
	out := &xdscontract.Route{
		Name:            r.Name,
		Match:           match,
		RequestHeaders:  headerMods(r.RequestHeaders),
		ResponseHeaders: headerMods(r.ResponseHeaders),
	}
	if r.Redirect != nil {
		rd, err := redirect(r.Redirect, r.Match)
		if err != nil {
			return nil, err
		}
		out.Redirect = rd
		return out, nil
	}
	failStatus := unforwardableStatus(r)
	if r.DirectResponse500 {
		out.Direct = &xdscontract.Direct{Status: failStatus}
		return out, nil
	}
	f := &xdscontract.Forward{
		Backends:       backends(r.Backends),
		NotFoundStatus: failStatus,
		Timeout:        r.Timeouts.Request,
		Retry:          retryPolicy(r),
		Mirrors:        t.mirrors(l, r),
	}
	if err := rewrite(f, r); err != nil {
		return nil, err
	}
	out.Forward = f
	return out, nil
}

// unforwardableStatus is the status of a request r cannot forward.
func unforwardableStatus(r *model.Route) int {
	// Requests that cannot be forwarded get 500 from an HTTPRoute; from a
	// GRPCRoute "an `UNAVAILABLE` status", which gRPC's mapping of HTTP
	// statuses gives HTTP 503 (500 would be UNKNOWN).
	if r.GRPC {
		return 503
	}
	return 500
}

// backends lowers a route's backends; an invalid one gets a cluster name
// that is in no snapshot.
func backends(bs []model.Backend) []xdscontract.Backend {
	out := make([]xdscontract.Backend, len(bs))
	for i, b := range bs {
		name := b.Cluster
		if b.Invalid != "" || b.Cluster == "" {
			reason := b.Invalid
			if reason == "" {
				reason = "BackendNotFound"
			}
			// No such cluster is in the snapshot: this share gets the
			// cluster-not-found status, Forward.NotFoundStatus.
			name = InvalidClusterName(reason, i)
		}
		out[i] = xdscontract.Backend{
			Cluster:         name,
			Weight:          b.Weight,
			RequestHeaders:  headerMods(b.RequestHeaders),
			ResponseHeaders: headerMods(b.ResponseHeaders),
		}
	}
	return out
}

// retryPolicy lowers r's retry stanza and backend request timeout; nil
// when it has neither.
func retryPolicy(r *model.Route) *xdscontract.Retry {
	if r.Retry == nil && r.Timeouts.BackendRequest <= 0 {
		return nil
	}
	out := &xdscontract.Retry{PerTry: r.Timeouts.BackendRequest}
	if rs := r.Retry; rs != nil {
		out.On = retryOnConnectionErrors
		out.NumRetries = uint32(rs.Attempts)
		if len(rs.Codes) > 0 {
			out.On |= xdscontract.RetryStatusCodes
			out.StatusCodes = rs.Codes
		}
		out.BackoffBase = rs.Backoff
	}
	return out
}

// mirrors lowers r's request mirrors, leaving out (with a warning) those
// to clusters not in the snapshot.
func (t *translator) mirrors(l *model.Listener, r *model.Route) []xdscontract.Mirror {
	var out []xdscontract.Mirror
	for _, mr := range r.Mirrors {
		if mr.Numerator == 0 {
			continue // mirrors nothing.
		}
		if !t.clusters[mr.Cluster] {
			t.warnf("listener %s: route %s: mirror to %q left out: no such cluster", l.Name, r.Name, mr.Cluster)
			continue
		}
		perMillion := uint32(1_000_000)
		if mr.Numerator < mr.Denominator {
			perMillion = uint32(int64(mr.Numerator) * 1_000_000 / int64(mr.Denominator))
		}
		out = append(out, xdscontract.Mirror{Cluster: mr.Cluster, PerMillion: perMillion})
	}
	return out
}

// rewrite sets f's host and path rewrites from r's URLRewrite filter.
func rewrite(f *xdscontract.Forward, r *model.Route) error {
	rw := r.Rewrite
	if rw == nil {
		return nil
	}
	if rw.Hostname != nil {
		f.HostRewrite = *rw.Hostname
	}
	if rw.Path == nil {
		return nil
	}
	var err error
	switch rw.Path.Type {
	case model.ReplaceFullPath:
		f.RegexRewrite, err = fullPathRewrite(rw.Path.Value)
	case model.ReplacePrefixMatch:
		f.PrefixRewrite, f.RegexRewrite, err = prefixRewrite(r.Match.PathValue, rw.Path.Value)
	default:
		err = fmt.Errorf("path rewrite type %q is not ReplaceFullPath or ReplacePrefixMatch", rw.Path.Type)
	}
	return err
}

// redirect lowers a RequestRedirect filter of a route matching m.
func redirect(rd *model.Redirect, m model.Match) (*xdscontract.Redirect, error) {
	out := &xdscontract.Redirect{Status: rd.StatusCode}
	if rd.Scheme != nil {
		out.Scheme = *rd.Scheme
	}
	if rd.Hostname != nil {
		out.Host = *rd.Hostname
	}
	if rd.Port != nil {
		if *rd.Port <= 0 || *rd.Port > math.MaxUint16 {
			return nil, fmt.Errorf("redirect port %d out of range 1-65535", *rd.Port)
		}
		out.Port = uint32(*rd.Port)
	}
	if rd.Path != nil {
		var err error
		switch rd.Path.Type {
		case model.ReplaceFullPath:
			out.Path = rd.Path.Value
		case model.ReplacePrefixMatch:
			out.PrefixRewrite, out.RegexRewrite, err = prefixRewrite(m.PathValue, rd.Path.Value)
		default:
			err = fmt.Errorf("redirect path type %q is not ReplaceFullPath or ReplacePrefixMatch", rd.Path.Type)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// prefixRewrite lowers a Gateway API ReplacePrefixMatch: the matched path
// prefix (whole path elements) becomes replacement. Envoy's plain
// prefix_rewrite is exact for that only when the prefix is not "/" and the
// replacement is neither empty (an empty prefix_rewrite rewrites nothing)
// nor ends in "/" ("/foo/x" with "/" would become "//x"); the other cases
// use a regex that also eats the "/" after the prefix. An empty
// replacement strips the prefix: "/foo/bar" → "/bar", "/foo" → "/".
func prefixRewrite(prefix, replacement string) (string, *xdscontract.RegexRewrite, error) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && replacement != "" && !strings.HasSuffix(replacement, "/") {
		return replacement, nil, nil
	}
	if !strings.HasSuffix(replacement, "/") {
		replacement += "/"
	}
	rr, err := xdscontract.NewRegexRewrite("^"+regexp.QuoteMeta(prefix)+"/*", replacement)
	return "", rr, err
}

// fullPathRewrite lowers a Gateway API ReplaceFullPath.
func fullPathRewrite(path string) (*xdscontract.RegexRewrite, error) {
	return xdscontract.NewRegexRewrite("^/.*$", path)
}

// headerMods lowers a Gateway API header modifier: "set" overwrites, "add"
// appends, set first.
func headerMods(m model.HeaderModifier) xdscontract.HeaderMods {
	out := xdscontract.HeaderMods{Remove: m.Remove}
	if len(m.Set)+len(m.Add) == 0 {
		return out
	}
	out.Add = make([]xdscontract.HeaderValue, 0, len(m.Set)+len(m.Add))
	for _, h := range m.Set {
		out.Add = append(out.Add, xdscontract.HeaderValue{Key: h.Name, Value: h.Value, Action: xdscontract.OverwriteOrAdd})
	}
	for _, h := range m.Add {
		out.Add = append(out.Add, xdscontract.HeaderValue{Key: h.Name, Value: h.Value, Action: xdscontract.AppendOrAdd})
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
