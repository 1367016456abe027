// Package dataplane serves the proxy's listeners: route matching, weighted choice and reverse proxying.
package dataplane
