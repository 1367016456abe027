package config

import (
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"time"
)

// Listener is one accepted Listener resource.
type Listener struct {
	Name string
	// Host and Port are the listener's socket address as configured.
	Host string
	Port uint32
	// RouteName names the RouteConfiguration fetched over RDS; empty when
	// Routes is inline.
	RouteName string
	// Routes is the inline route configuration, if any.
	Routes *RouteTable
	// Steering is the listener's gammaproof.io/steering metadata.
	Steering Steering
}

// Steering is the listener metadata the node agent uses to steer traffic.
type Steering struct {
	VIPs            []netip.Addr
	ServicePort     uint32
	CallerNamespace string
	Service         string
}

// Cluster is one accepted Cluster resource.
type Cluster struct {
	Name string
	// EDSName is the ClusterLoadAssignment name to subscribe to.
	EDSName        string
	HTTP2          bool
	ConnectTimeout time.Duration
}

// Endpoints is one accepted ClusterLoadAssignment: the ready endpoints as
// host:port strings.
type Endpoints struct {
	Cluster string
	Addrs   []string
}

// RouteTable is one accepted RouteConfiguration. It must not change once
// [RouteTable.VirtualHost] has been called.
type RouteTable struct {
	Name         string
	VirtualHosts []*VirtualHost

	// The domain index of VirtualHost, built on first use.
	indexOnce sync.Once
	exact     map[string]domainEntry
	wildcards []wildcard
	any       *VirtualHost
}

// VirtualHost is a set of domains and their ordered routes.
type VirtualHost struct {
	Name    string
	Domains []string
	Routes  []*Route
}

// Route is one route entry: a match and exactly one of Forward, Redirect
// and Direct.
type Route struct {
	Name     string
	Match    Match
	Forward  *Forward
	Redirect *Redirect
	Direct   *Direct
	// RequestHeaders and ResponseHeaders are the route-level modifiers.
	RequestHeaders  HeaderMods
	ResponseHeaders HeaderMods
}

// PathKind says how Match.Path is compared.
type PathKind int

// Path match kinds.
const (
	PathPrefix PathKind = iota
	PathExact
	PathSeparatedPrefix
	PathRegex
)

// Match is a route's match: path, headers (":method" included) and query
// parameters, all of which must match.
type Match struct {
	PathKind PathKind
	Path     string
	Regex    *regexp.Regexp
	Headers  []HeaderMatch
	Query    []QueryMatch
}

// StringKind says how a StringMatch compares.
type StringKind int

// String match kinds.
const (
	StringExact StringKind = iota
	StringPrefix
	StringSuffix
	StringContains
	StringRegex
)

// StringMatch is Envoy's StringMatcher.
type StringMatch struct {
	Kind       StringKind
	Value      string
	Regex      *regexp.Regexp
	IgnoreCase bool
}

// HeaderMatch matches one request header. With String nil it matches on
// presence (Present says whether the header must be present or absent).
type HeaderMatch struct {
	Name    string
	String  *StringMatch
	Present bool
	Invert  bool
}

// QueryMatch matches one query parameter, by value or by presence.
type QueryMatch struct {
	Name   string
	String *StringMatch
}

// Forward sends the request to one of the weighted backends.
type Forward struct {
	Backends    []Backend
	TotalWeight uint64
	// NotFoundStatus answers a request whose chosen cluster is unknown.
	NotFoundStatus int
	// Timeout is the whole-request timeout; 0 means none.
	Timeout time.Duration
	Retry   *Retry
	Mirrors []Mirror
	// PrefixRewrite replaces the matched prefix (Match.Path) in the path.
	PrefixRewrite string
	// RegexRewrite, if set, rewrites the path with RegexSubstitution.
	RegexRewrite      *regexp.Regexp
	RegexSubstitution string
	HostRewrite       string
}

// Backend is one weighted cluster of a Forward.
type Backend struct {
	Cluster         string
	Weight          uint32
	RequestHeaders  HeaderMods
	ResponseHeaders HeaderMods
}

// Mirror sends a fire-and-forget copy of the request to a cluster.
type Mirror struct {
	Cluster        string
	NoShadowSuffix bool
	// Fraction is the share of requests mirrored, in (0, 1].
	Fraction float64
}

// RetryOn is a set of retry conditions.
type RetryOn uint8

// Retry conditions (Envoy's x-envoy-retry-on names).
const (
	Retry5xx RetryOn = 1 << iota
	RetryGatewayError
	RetryConnectFailure
	RetryReset
	RetryStatusCodes
)

// Retry is a route's retry policy.
type Retry struct {
	On          RetryOn
	NumRetries  uint32
	PerTry      time.Duration
	StatusCodes []int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// OnlyIf, if not empty, limits retries to requests matching one of
	// these header matches (Envoy's retriable_request_headers).
	OnlyIf []HeaderMatch
}

// Applies reports whether the policy may retry r.
func (r *Retry) Applies(req *http.Request) bool {
	if r == nil {
		return false
	}
	if len(r.OnlyIf) == 0 {
		return true
	}
	for i := range r.OnlyIf {
		if r.OnlyIf[i].Matches(req) {
			return true
		}
	}
	return false
}

// Redirect answers with a redirect built from the request.
type Redirect struct {
	Scheme        string
	Host          string
	Port          uint32
	Path          string
	PrefixRewrite string
	// RegexRewrite, if set, rewrites the path with RegexSubstitution.
	RegexRewrite      *regexp.Regexp
	RegexSubstitution string
	Status            int
	StripQuery        bool
}

// Direct answers with a fixed status and body.
type Direct struct {
	Status int
	Body   string
}

// AppendAction is what a header addition does when the header exists.
type AppendAction int

// Append actions, as in Envoy's HeaderValueOption.
const (
	AppendOrAdd AppendAction = iota
	AddIfAbsent
	OverwriteOrAdd
	OverwriteIfExists
)

// HeaderValue is one header to add or set.
type HeaderValue struct {
	Key    string
	Value  string
	Action AppendAction
}

// HeaderMods removes then adds headers.
type HeaderMods struct {
	Add    []HeaderValue
	Remove []string
}
