// Package local is the e2e-framework cluster provider over the local cluster of localcluster/cluster (control plane) and localcluster/node (node): a real Kubernetes run as processes on this machine, no Docker.
package local
