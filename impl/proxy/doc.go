// Package proxy is the gammaproof node proxy: an ADS client feeding an HTTP/1.1 and h2c data plane.
package proxy
