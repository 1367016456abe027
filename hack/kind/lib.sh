# Sourced by hack/kind/*.sh: the pins and paths of the offline kind node image.
# shellcheck shell=bash

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${BIN:-$root/bin}
kindbin=$bin/kind
mkdir -p "$kindbin"

# The node image our kind configs name. Where images can be pulled, kind
# pulls the real one; `make kind-node-image` builds one offline under the
# same name (labelled io.gammaproof.kind-node.inputs).
node_image=$(awk '$1=="image:"{print $2; exit}' "$root/kind-configs/single-node.yaml")
# mod_version MODULE GO.MOD: the version GO.MOD requires of MODULE.
mod_version() { grep -oE "(^|[[:space:]])$1 v[^[:space:]]+" "$2" | head -1 | awk '{print $2}'; }
kube_version=$(mod_version k8s.io/kubernetes "$root/tools/kind-node/go.mod")
kind_version=$(mod_version sigs.k8s.io/kind "$root/go.mod")
coredns_version=$(mod_version github.com/coredns/coredns "$root/tools/kind-coredns/go.mod")
# What kubeadm $kube_version deploys (cmd/kubeadm/app/constants).
etcd_tag=3.7.0-0
pause_tag=3.10.2
debian_suite=bookworm

# Debian mirror: the first http(s) URI of the machine's apt sources.
debian_mirror() {
	local m
	m=$(grep -rhoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]*debian/?' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -1 | grep -oE 'https?://[^[:space:]]*' || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# pin_of FILE...: a short hash of the files' contents.
pin_of() { cat "$@" | sha256sum | cut -c1-16; }

log() { echo "kind: $*"; }
