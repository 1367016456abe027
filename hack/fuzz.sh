#!/usr/bin/env bash
# Runs every native Go fuzz target for FUZZTIME each (default 60s), one
# after another, and prints how long each ran clean. A target that fails
# leaves its crasher in <package>/testdata/fuzz/<Target>/, where plain
# `go test` replays it from then on as a regression seed; the script goes
# on with the next target and exits 1 at the end.
#
#   hack/fuzz.sh                            # all targets, 60s each
#   FUZZTIME=10m hack/fuzz.sh               # longer
#   FUZZMINIMIZETIME=60s hack/fuzz.sh        # go test's default minimization
#   hack/fuzz.sh ./suite/report:FuzzDecode  # only the targets named
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-60s}
# A worker minimizes every input that finds new coverage before it goes
# on, for up to go test's default of 60s: with inputs of kilobytes (a
# results.json, a scenario) that took most of a 60s run. 5s keeps the
# fuzzing going; minimized crashers may stay a little larger.
minimize=${FUZZMINIMIZETIME:-5s}

targets=(
	./impl/model:FuzzBuild
	./impl/model:FuzzBuildGenerated
	./impl/xds:FuzzTranslate
	./impl/proxy/config:FuzzDecode
	./impl/proxy/config:FuzzTranslatedDecodes
	./suite/scenario:FuzzLoad
	./suite/report:FuzzDecode
)
if [ $# -gt 0 ]; then
	targets=("$@")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
summary=()
for t in "${targets[@]}"; do
	pkg=${t%%:*}
	name=${t#*:}
	echo "== $pkg $name (fuzztime $fuzztime)"
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	secs=$(( $(date +%s) - start ))
	# The last progress line: how many inputs ran, how many were new.
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1)
	corpus=$(grep -o 'total: [0-9]*' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		summary+=("clean   ${secs}s  $pkg $name  (${execs:-execs: 0}, corpus ${corpus#total: })")
	else
		failed=1
		summary+=("FAILED  ${secs}s  $pkg $name (crasher, if any, in ${pkg#./}/testdata/fuzz/$name/)")
	fi
done

echo
echo "fuzz summary ($(date -u +%Y-%m-%dT%H:%MZ), $(go env GOVERSION), fuzztime $fuzztime each; seconds include the build):"
printf '  %s\n' "${summary[@]}"
exit $failed
