#!/usr/bin/env bash
# Builds the fault-injecting gamma-controller into bin/faults/gamma-controller
# (build tag gammaproof_faults): `gamma-controller --fault=NAME` serves the
# mesh with one catalogued fault (internal/faultcatalog, impl/fault). On the
# local cluster the image gammaproof/controller:faults resolves to it. Every
# fault lives in the controller, so gamma-node needs no fault build.
#
# Never ship this binary: release builds (`make build`, `make images`) leave
# the tag off, and cmd/gamma-controller's TestReleaseBinaryHasNoFaults checks
# that no fault code reaches them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/bin}
go=${GO:-go}
mkdir -p "$bin/faults"
cd "$root"
CGO_ENABLED=0 "$go" build -tags gammaproof_faults -trimpath -ldflags "-s -w" \
	-o "$bin/faults/gamma-controller" ./cmd/gamma-controller
echo "built $bin/faults/gamma-controller (faults: gamma-controller --fault=NAME; an unknown NAME lists them)"
