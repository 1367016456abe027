// Package steer loads and attaches the eBPF programs that steer pod connections to Service VIPs into the node proxy.
package steer
