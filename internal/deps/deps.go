//go:build deps

// Package deps pins the modules the project builds on while packages are
// being written, so that `go mod tidy` keeps them.
package deps

import (
	_ "github.com/cilium/ebpf"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/virtual-kubelet/virtual-kubelet/node"
	_ "github.com/virtual-kubelet/virtual-kubelet/node/api"
	_ "github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/net/http2/h2c"
	_ "golang.org/x/sys/unix"
	_ "gonum.org/v1/gonum/stat/distuv"
	_ "google.golang.org/grpc"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/e2e-framework/pkg/env"
	_ "sigs.k8s.io/gateway-api/apis/v1"
	_ "sigs.k8s.io/gateway-api/conformance/apis/v1"
	_ "sigs.k8s.io/kind/pkg/cluster"
	_ "sigs.k8s.io/kind/pkg/cluster/nodeutils"
	_ "sigs.k8s.io/yaml"
)
