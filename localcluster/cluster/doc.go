// Package cluster runs a single-node Kubernetes cluster from processes on this machine: etcd, the control plane, gamma-localnode and kube-proxy.
package cluster
