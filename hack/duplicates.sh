#!/usr/bin/env bash
# Lists the code pairs that repeat each other in this checkout, as issue #11
# counts them: `duplicates` (the code-duplication lister of our development
# machines; it must be on PATH) run on a copy of the tracked and untracked,
# not ignored, files without generated code (bpf2go's *_bpfel.go), golden
# and published HTML reports, and with Go import blocks blanked (line
# numbers are kept). "no duplicates" is the goal. Extra arguments go to
# `duplicates` (default --most 200 --seconds 120).
set -euo pipefail

if ! command -v duplicates >/dev/null; then
	echo "duplicates.sh: no \`duplicates\` command on PATH; it comes with the development machines' tool library" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT

cd "$root"
{ git ls-files -z; git ls-files -z --others --exclude-standard; } |
	grep -z -v -E '(_bpfel\.go|\.html)$' |
	while IFS= read -r -d '' f; do if [[ -f $f ]]; then printf '%s\0' "$f"; fi; done |
	tar --null -T - -cf - | tar -xf - -C "$copy"

# Blank import blocks, keeping the lines so the rows' line numbers hold.
find "$copy" -name '*.go' -exec sed -i -e '/^import ($/,/^)/s/.*//' -e 's/^import .*//' {} +

cd "$copy"
git init -q . && git add -A
if (($# == 0)); then
	set -- --most 200 --seconds 120
fi
duplicates "$@"
