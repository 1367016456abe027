#!/usr/bin/env bash
# Regenerates the published reports of gammaproof, reports/v1.6/gammaproof/,
# what `make publish-report` does. On the local cluster, for each grant
# policy (spec, then strict):
#   1. upstream's own mesh conformance tests (hack/conformance.sh: upstream's
#      suite, tests, manifests and report, unchanged), whose report and
#      verdicts go to upstream/ in upstream's naming
#      (<channel>-<version>-<mode>-report.yaml, -verdicts.json);
#   2. our suite (`gammaproof verify --env=local`) with upstream's verdicts of
#      that same cluster attached (--upstream-verdicts), into spec/ or
#      strict/ (results.json, the ConformanceReport YAML, junit.xml,
#      report.html), the YAML also copied to the top.
# Then the cluster goes down (when this script started it), and the
# published reports are checked (go test ./suite/upstream ./suite/report
# -run Published, on OUT): upstream's verdicts (all pass under spec; under
# strict exactly MeshConsumerRoute fails), ours, and their agreement.
#
# Root, Linux (the local cluster); builds what bin/ lacks first
# (make kube build, hack/build-istio-echo.sh). Prints the wall time of each
# phase. Exits non-zero when a run failed or a check did not hold.
#
# Variables: OUT (default reports/v1.6/gammaproof), VERSION (the upstream
# reports' version, default `git describe --always`), VERIFY_FLAGS (more
# flags for `gammaproof verify`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-reports/v1.6/gammaproof}
VERSION=${VERSION:-$(git describe --always)}
VERIFY_FLAGS=${VERIFY_FLAGS:-}
bin=$root/bin
export GAMMAPROOF_BIN=$bin
stage=$bin/publish-report
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0))s"; }
say() { echo "publish-report: $* ($(elapsed))"; }

say "building what bin/ lacks (make kube build, hack/build-istio-echo.sh)"
make kube build
./hack/build-istio-echo.sh

source "$root/hack/lib/local-cluster.sh"
if "$bin/gammaproof" cluster status >/dev/null 2>&1; then
	say "using the running local cluster (it stays up)"
else
	start_local_cluster say
fi

rm -rf "$stage"
mkdir -p "$stage" "$OUT/upstream"
failed=()
times=()
for policy in spec strict; do
	case $policy in
	spec) mode=default ;;
	strict) mode=strict-grants ;;
	esac
	verdicts=$stage/upstream/experimental-$VERSION-$mode-verdicts.json

	say "$policy: upstream's conformance tests (hack/conformance.sh)"
	t=$(date +%s)
	rc=0
	ENV=local POLICY=$policy VERSION=$VERSION OUT=$stage/upstream ./hack/conformance.sh >"$stage/conformance-$policy.log" 2>&1 || rc=$?
	times+=("$policy: upstream's conformance $(($(date +%s) - t))s (exit $rc)")
	grep '^conformance: ' "$stage/conformance-$policy.log" | sed "s/^/publish-report: $policy: /"
	# Under strict, upstream's MeshConsumerRoute fails by design (its
	# manifests have no ReferenceGrant): the checks at the end judge the
	# verdicts, not this exit status.
	if [[ ! -s $verdicts ]]; then
		failed+=("$policy: upstream's conformance run wrote no verdicts (exit $rc, log $stage/conformance-$policy.log)")
		continue
	fi

	say "$policy: gammaproof verify with upstream's verdicts attached"
	rm -rf "${OUT:?}/$policy"
	t=$(date +%s)
	rc=0
	# shellcheck disable=SC2086 # VERIFY_FLAGS is a list of flags
	"$bin/gammaproof" verify --env=local --grant-policy="$policy" --report-dir="$OUT/$policy" \
		--upstream-verdicts="$verdicts" $VERIFY_FLAGS || rc=$?
	times+=("$policy: gammaproof verify $(($(date +%s) - t))s (exit $rc)")
	if [[ $rc != 0 ]]; then
		failed+=("$policy: gammaproof verify exited $rc")
	fi
	rm -rf "${OUT:?}/$policy/logs"
done

stop_local_cluster

say "publishing into $OUT"
rm -f "$OUT"/*-report.yaml "$OUT"/upstream/*-report.yaml "$OUT"/upstream/*-verdicts.json
for policy in spec strict; do
	cp "$OUT/$policy"/*-report.yaml "$OUT/" 2>/dev/null || failed+=("$policy: no ConformanceReport of ours")
done
cp "$stage"/upstream/*-report.yaml "$stage"/upstream/*-verdicts.json "$OUT/upstream/"

say "checking the published reports"
# The checks read <root>/reports/v1.6/gammaproof: point a root of their own
# at OUT, wherever it is.
check_root=$stage/check-root
mkdir -p "$check_root/reports/v1.6"
ln -sfn "$(cd "$OUT" && pwd)" "$check_root/reports/v1.6/gammaproof"
if ! GAMMAPROOF_ROOT=$check_root go test -count=1 ./suite/upstream ./suite/report -run 'Published'; then
	failed+=("the checks of the published reports failed")
fi

for t in "${times[@]}"; do
	echo "publish-report: time: $t"
done
echo "publish-report: whole run $(elapsed)"
if ((${#failed[@]} > 0)); then
	printf 'publish-report: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "publish-report: published $OUT (upstream's reports in $OUT/upstream)"
