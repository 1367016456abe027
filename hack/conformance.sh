#!/usr/bin/env bash
# Runs upstream's own mesh conformance tests, sigs.k8s.io/gateway-api/conformance
# v1.6.3 unchanged (its ConformanceTestSuite, tests, manifests and report; see
# suite/upstream/runner), with profiles MESH-HTTP and MESH-GRPC, against a
# cluster, and writes into $OUT (default reports/latest/upstream/):
#   <channel>-<version>-<mode>-report.yaml    upstream's ConformanceReport
#   <channel>-<version>-<mode>-verdicts.json  every mesh test's verdict, by short name
#                                             (also the 7 tests no profile counts)
#   <channel>-<version>-<mode>-test.log       the go test output
#
# ENV=local (default): builds what is missing in bin/ (make kube build,
#   hack/build-istio-echo.sh for upstream's echo-advanced image), starts the
#   local cluster unless one runs (and stops it again at the end), installs
#   gammaproof with POLICY.
# ENV=existing: KUBECONFIG names the cluster; no Kubernetes build. The
#   cluster needs the Gateway API v1.6.3 CRDs and must be able to pull
#   registry.k8s.io/gateway-api/echo-advanced. gammaproof is installed unless
#   IMPLEMENTATION=existing (then set FEATURES and the metadata variables
#   below to the implementation's).
#
# Variables: POLICY=spec|strict (gammaproof's grant policy; mode "default"
# or "strict-grants"), FEATURES (upstream feature names, comma-separated;
# default gammaproof's, suite/upstream.GammaproofFeatures), ORGANIZATION,
# PROJECT, URL, VERSION (default `git describe --always`), CONTACT, MODE,
# CHANNEL (the CRD channel in the report's file name, default experimental),
# OUT, EXTRA_ARGS (more upstream flags, e.g. --run-test=MeshBasic).
#
# It exits non-zero when any upstream test fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ENV=${ENV:-local}
POLICY=${POLICY:-spec}
IMPLEMENTATION=${IMPLEMENTATION:-gammaproof}
OUT=${OUT:-$root/reports/latest/upstream}
CHANNEL=${CHANNEL:-experimental}
ORGANIZATION=${ORGANIZATION:-gammaproof}
PROJECT=${PROJECT:-gammaproof}
URL=${URL:-https://github.com/gammaproof/gammaproof}
VERSION=${VERSION:-$(git describe --always)}
CONTACT=${CONTACT:-https://github.com/gammaproof/gammaproof/issues}
FEATURES=${FEATURES:-}
EXTRA_ARGS=${EXTRA_ARGS:-}
case $POLICY in
spec) MODE=${MODE:-default} ;;
strict) MODE=${MODE:-strict-grants} ;;
*) echo "conformance: POLICY=$POLICY is not spec or strict" >&2; exit 2 ;;
esac
bin=$root/bin
export GAMMAPROOF_BIN=$bin

t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0))s"; }
say() { echo "conformance: $* ($(elapsed))"; }
source "$root/hack/lib/local-cluster.sh"

case $ENV in
local)
	echo "conformance: building what bin/ lacks (make kube build, hack/build-istio-echo.sh)"
	make kube build
	./hack/build-istio-echo.sh
	export KUBECONFIG=$root/.gammaproof/local/kubeconfig
	if [[ -f $KUBECONFIG ]] && "$bin/kubectl" get --raw=/readyz >/dev/null 2>&1; then
		echo "conformance: using the running local cluster"
	else
		start_local_cluster say
	fi
	;;
existing)
	: "${KUBECONFIG:?ENV=existing needs KUBECONFIG}"
	if [[ $IMPLEMENTATION == gammaproof ]]; then
		mkdir -p "$bin"
		CGO_ENABLED=0 go build -trimpath -o "$bin/gammaproof" ./cmd/gammaproof
	fi
	;;
*)
	echo "conformance: ENV=$ENV is not local or existing" >&2
	exit 2
	;;
esac

if [[ $IMPLEMENTATION == gammaproof ]]; then
	echo "conformance: installing gammaproof, grant policy $POLICY ($(elapsed))"
	"$bin/gammaproof" install --kubeconfig="$KUBECONFIG" --wait --grant-policy="$POLICY"
fi
features=(--gammaproof-features)
if [[ -n $FEATURES ]]; then
	features=(--supported-features="$FEATURES")
elif [[ $IMPLEMENTATION != gammaproof ]]; then
	echo "conformance: IMPLEMENTATION=$IMPLEMENTATION needs FEATURES" >&2
	exit 2
fi

mkdir -p "$OUT"
base=$OUT/$CHANNEL-$VERSION-$MODE
echo "conformance: running upstream's mesh tests, mode $MODE ($(elapsed))"
t1=$(date +%s)
rc=0
# shellcheck disable=SC2086 # EXTRA_ARGS is a list of flags
go test -tags conformance -count=1 -timeout 30m -v ./suite/upstream/runner -run '^TestConformance$' -args \
	--kubeconfig="$KUBECONFIG" \
	--conformance-profiles=MESH-HTTP,MESH-GRPC \
	"${features[@]}" \
	--organization="$ORGANIZATION" --project="$PROJECT" --url="$URL" \
	--version="$VERSION" --contact="$CONTACT" --mode="$MODE" \
	--report-output="$base-report.yaml" --upstream-verdicts="$base-verdicts.json" \
	$EXTRA_ARGS 2>&1 | tee "$base-test.log" || rc=$?
echo "conformance: upstream's tests took $(($(date +%s) - t1))s, $(elapsed) in all; exit status $rc"
echo "conformance: report $base-report.yaml, verdicts $base-verdicts.json"
if [[ -f $base-verdicts.json ]]; then
	grep -E '"(PASS|FAIL)"' "$base-verdicts.json" | sed 's/^ */conformance:   /' || true
fi
exit "$rc"
