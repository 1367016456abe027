// Package local is an e2e-framework cluster provider for the local cluster: a real Kubernetes control plane and node run as processes on this machine, no Docker.
package local
