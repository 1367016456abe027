#!/usr/bin/env bash
# hack/kind/e2e.sh CONFIG [VERIFY-FLAG...]
#
# Every scenario on a kind cluster made from the kind config CONFIG: the
# node image first (hack/kind/node-image.sh: nothing when up to date), then
# `gammaproof verify --env=kind`, which creates the cluster, runs the
# scenarios, writes reports/latest/ and deletes the cluster. With the
# three-node kind-configs/default.yaml the kind-only scenarios of
# kind-configs/scenarios/ (client and backends pinned to different nodes)
# run too. Needs a Docker engine answering: run it under
# hack/kind/engine.sh (make e2e-kind does). GAMMAPROOF names the gammaproof
# binary (default bin/gammaproof).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

config=${1:?usage: e2e.sh KIND-CONFIG [VERIFY-FLAG...]}
shift
[[ -f $config ]] || { echo "kind: no kind config $config" >&2; exit 2; }
"$root/hack/kind/node-image.sh"

# Pods start slowly in kind nodes on small machines: a few scenarios at a
# time (KIND_SCENARIO_CONCURRENCY; a --scenario-concurrency flag given
# after it wins).
args=(--env=kind "--kind-config=$config" "--scenario-concurrency=${KIND_SCENARIO_CONCURRENCY:-3}")
if [[ $(realpath "$config") == "$(realpath "$root/kind-configs/default.yaml")" ]]; then
	dir=$(mktemp -d /tmp/gammaproof-kind-scenarios.XXXXXX)
	trap 'rm -rf "$dir"' EXIT
	cp -r "$root"/scenarios/*/ "$root"/kind-configs/scenarios/*/ "$dir/"
	log "three nodes: the kind-only scenarios of kind-configs/scenarios/ run too"
	args+=("--scenarios=$dir")
fi
t=$(date +%s)
rc=0
"${GAMMAPROOF:-$bin/gammaproof}" verify "${args[@]}" "$@" || rc=$?
log "verify --env=kind took $(($(date +%s) - t))s (exit $rc)"
exit $rc
