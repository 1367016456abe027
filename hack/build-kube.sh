#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries the local cluster runs into bin/,
# from the Go modules pinned in tools/kube/go.mod. A binary is rebuilt only
# when it is missing or when the pin (go.mod + go.sum) changed since it was
# built. A cold build takes ~15 minutes on 2 cores; progress is printed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/bin}
mod=$root/tools/kube
mkdir -p "$bin"

kube_version=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$mod/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$mod/go.mod")
pin=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)

# shellcheck source=lib/pinned-build.sh
source "$root/hack/lib/pinned-build.sh"
ldflags=$(kube_ldflags "$kube_version")

targets=(
	"etcd go.etcd.io/etcd/server/v3"
	"kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"
	"kubectl k8s.io/kubernetes/cmd/kubectl"
	"kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager"
	"kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler"
	"kube-proxy k8s.io/kubernetes/cmd/kube-proxy"
)

cd "$mod"
i=0
for t in "${targets[@]}"; do
	i=$((i + 1))
	name=${t%% *}
	version=$kube_version
	[[ $name == etcd ]] && version=$etcd_version
	pinned_build kube "$i/${#targets[@]}" "$name" "${t#* }" "$version" "$pin" "$ldflags"
done
