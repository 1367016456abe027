package config

import (
	"sync"
	"time"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
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
	// Steering is the listener's steering metadata.
	Steering xdscontract.Steering
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
	Routes  []*xdscontract.Route
}
