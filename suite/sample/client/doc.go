// Package client is the sampling client: it sends batches of HTTP, h2c or
// gRPC requests, attributes every answer to a backend and serves the
// sampling API that the suite calls through the pod proxy.
package client
