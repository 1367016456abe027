// Package podproxy reaches client pods' sampling API through the API
// server's pod proxy.
package podproxy
