// Package xds turns the mesh model into Envoy xDS resources and serves them to node proxies over ADS.
package xds
