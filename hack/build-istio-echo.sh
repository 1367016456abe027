#!/usr/bin/env bash
# Builds Istio's echo server and client — the app inside
# registry.k8s.io/gateway-api/echo-advanced, which upstream's mesh conformance
# manifests run — into bin/istio-echo-server and bin/istio-echo-client, from
# the istio.io/istio pseudo-version pinned in tools/istio-echo/go.mod, and
# writes the files the image carries besides them: a self-signed
# bin/istio-echo-files/cert.crt and cert.key (the pods start the server with
# --crt=/cert.crt --key=/cert.key). Everything is rebuilt only when missing or
# when the pin (go.mod + go.sum, and the generator for the certificate)
# changed since it was built. A cold build takes a few minutes on 2 cores;
# progress is printed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/bin}
mod=$root/tools/istio-echo
mkdir -p "$bin"

istio_version=$(awk '$1=="istio.io/istio"{print $2} $1=="require" && $2=="istio.io/istio"{print $3}' "$mod/go.mod" | head -n1)
pin=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)

targets=(
	"istio-echo-server istio.io/istio/pkg/test/echo/cmd/server"
	"istio-echo-client istio.io/istio/pkg/test/echo/cmd/client"
)
total=$((${#targets[@]} + 1))

# shellcheck source=lib/pinned-build.sh
source "$root/hack/lib/pinned-build.sh"
cd "$mod"
i=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	pinned_build istio-echo "$i/$total" "${t%% *}" "${t#* }" "from istio.io/istio $istio_version" "$pin" "-s -w"
done

i=$((i + 1))
files=$bin/istio-echo-files
cert_pin=$(cat "$mod"/gencert/*.go | sha256sum | cut -c1-16)
stamp=$bin/.istio-echo-files.pin
if [[ -f $files/cert.crt && -f $files/cert.key && -f $stamp && $(cat "$stamp") == "$cert_pin" ]]; then
	echo "istio-echo: [$i/$total] $files/cert.crt and cert.key up to date"
else
	echo "istio-echo: [$i/$total] writing a self-signed $files/cert.crt and cert.key"
	go run ./gencert -dir "$files"
	echo "$cert_pin" >"$stamp"
fi
