//go:build tools

// Package tools pins the kubelet and kubeadm of the offline kind node image
// (`make kind-node-image`). Its go.mod is tools/kube's with only what these
// two commands add, so both build the same k8s.io/kubernetes with the same
// dependencies and share the Go build cache.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
