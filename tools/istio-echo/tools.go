//go:build tools

// Package tools pins Istio's echo server and client, the app inside the
// registry.k8s.io/gateway-api/echo-advanced image that upstream's mesh
// conformance manifests run. `make istio-echo` (hack/build-istio-echo.sh)
// builds them into bin/.
package tools

import (
	_ "istio.io/istio/pkg/test/echo/cmd/client"
	_ "istio.io/istio/pkg/test/echo/cmd/server"
)
