#!/usr/bin/env bash
# Builds what the offline kind node image carries from Go modules into
# bin/kind/: kubelet and kubeadm (tools/kind-node: tools/kube's
# k8s.io/kubernetes, so the build cache is shared with `make kube`), CoreDNS
# with only the plugins kubeadm's Corefile uses (tools/kind-coredns), the
# Docker runtime wrapper kind-runc (tools/kind-runc), crictl (kind's log
# export runs it; tools/kind-crictl) and a static pause
# (kubernetes' build/pause/linux/pause.c). Each is rebuilt only when its pin
# changed. No container engine needed: run it outside any lock.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=../lib/pinned-build.sh
source "$root/hack/lib/pinned-build.sh"
bin=$kindbin # pinned_build's output folder

if [[ $(mod_version k8s.io/kubernetes "$root/tools/kube/go.mod") != "$kube_version" ]]; then
	echo "kind: tools/kind-node pins k8s.io/kubernetes $kube_version but tools/kube pins another: copy tools/kube/go.mod and go.sum into tools/kind-node (module line kept) and run go mod tidy there" >&2
	exit 1
fi

ldflags=$(kube_ldflags "$kube_version")

(
	cd "$root/tools/kind-node"
	pin=$(pin_of go.mod go.sum)
	pinned_build kind "1/6" kubelet k8s.io/kubernetes/cmd/kubelet "$kube_version" "$pin" "$ldflags"
	pinned_build kind "2/6" kubeadm k8s.io/kubernetes/cmd/kubeadm "$kube_version" "$pin" "$ldflags"
)
(
	cd "$root/tools/kind-coredns"
	pinned_build kind "3/6" coredns . "$coredns_version" "$(pin_of go.mod go.sum main.go)" "-s -w"
)
(
	cd "$root/tools/kind-runc"
	pinned_build kind "4/6" kind-runc . "(runc wrapper)" "$(pin_of go.mod main.go)" "-s -w"
)

(
	cd "$root/tools/kind-crictl"
	pinned_build kind "5/6" crictl sigs.k8s.io/cri-tools/cmd/crictl "$(mod_version sigs.k8s.io/cri-tools go.mod)" "$(pin_of go.mod go.sum)" "-s -w"
)

# pause: C, static, from the pinned kubernetes module.
src=$(cd "$root/tools/kind-node" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
pin=$(pin_of "$src")
if [[ -x $kindbin/pause && -f $kindbin/.pause.pin && $(cat "$kindbin/.pause.pin") == "$pin" ]]; then
	log "[6/6] pause up to date"
else
	if ! command -v gcc >/dev/null || [[ ! -e /usr/lib/x86_64-linux-gnu/libc.a && ! -e /usr/lib/aarch64-linux-gnu/libc.a ]]; then
		log "[6/6] installing gcc and libc6-dev for the static pause"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
	fi
	log "[6/6] building pause $pause_tag"
	gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-gammaproof" -o "$kindbin/pause.tmp" "$src"
	strip "$kindbin/pause.tmp" 2>/dev/null || true
	mv "$kindbin/pause.tmp" "$kindbin/pause"
	echo "$pin" >"$kindbin/.pause.pin"
fi
