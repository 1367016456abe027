#!/usr/bin/env bash
# Builds gammaproof's offline kind node image, tagged as the image our kind
# configs name, from Debian packages and pinned Go modules:
#   1. a Debian rootfs (debootstrap --variant=minbase, the machine's apt
#      mirror), imported as gammaproof/kind-debian;
#   2. one-layer images around our static binaries for kube-apiserver,
#      kube-controller-manager, kube-scheduler and etcd (bin/, `make kube`),
#      CoreDNS and pause (bin/kind/, hack/kind/build-bins.sh); kube-proxy on
#      Debian with iptables; all tagged as kubeadm deploys them;
#   3. the node: kind's base (its base files from the sigs.k8s.io/kind module
#      our go.mod pins, Debian's systemd, containerd, runc, CNI plugins),
#      kubelet, kubeadm, kubectl, the images of step 2 preloaded, and the
#      gammaproof-podnet pod network.
# Needs a Docker engine answering (hack/kind/engine.sh run ...). The node
# image is rebuilt only when an input changed: the image carries a hash of
# the pins, binaries' pins and these scripts (label
# io.gammaproof.kind-node.inputs). FORCE=1 rebuilds. An image of that name
# without the label (the real one, pulled) is used as it is.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

start=$(date +%s)
for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl etcd; do
	[[ -x $bin/$b ]] || { echo "kind: $bin/$b missing: run make kube" >&2; exit 1; }
done
for b in kubelet kubeadm coredns pause crictl; do
	[[ -x $kindbin/$b ]] || { echo "kind: $kindbin/$b missing: run hack/kind/build-bins.sh (make kind-node-bins)" >&2; exit 1; }
done

inputs=$(
	cd "$root"
	{
		echo "$node_image $kube_version $kind_version $coredns_version $etcd_tag $pause_tag $debian_suite"
		cat hack/kind/lib.sh hack/kind/node-image.sh hack/kind/node/*
		cat "$bin"/.kube-apiserver.pin "$bin"/.kube-controller-manager.pin "$bin"/.kube-scheduler.pin \
			"$bin"/.kube-proxy.pin "$bin"/.kubectl.pin "$bin"/.etcd.pin
		cat "$kindbin"/.kubelet.pin "$kindbin"/.kubeadm.pin "$kindbin"/.coredns.pin "$kindbin"/.pause.pin "$kindbin"/.crictl.pin
	} | sha256sum | cut -c1-16
)
if docker image inspect "$node_image" >/dev/null 2>&1; then
	have=$(docker image inspect -f '{{index .Config.Labels "io.gammaproof.kind-node.inputs"}}' "$node_image")
	if [[ -z $have || $have == "<no value>" ]] && [[ -z ${FORCE:-} ]]; then
		log "node image $node_image is present and was not built here (pulled): used as it is"
		exit 0
	fi
fi
if [[ ${have:-} == "$inputs" && -z ${FORCE:-} ]]; then
	log "node image $node_image up to date (inputs $inputs)"
	exit 0
fi
log "building node image $node_image (inputs $inputs; cold: ~10 minutes)"

# 1. Debian rootfs.
mirror=$(debian_mirror)
debian_image=gammaproof/kind-debian:$debian_suite-$(echo "$debian_suite $mirror" | sha256sum | cut -c1-8)
if docker image inspect "$debian_image" >/dev/null 2>&1; then
	log "[1/3] $debian_image up to date"
else
	if ! command -v debootstrap >/dev/null; then
		log "[1/3] installing debootstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	fi
	log "[1/3] debootstrap $debian_suite from $mirror"
	rootfs=$(mktemp -d /tmp/gammaproof-kind-rootfs.XXXXXX)
	trap 'rm -rf "$rootfs"' EXIT
	t=$(date +%s)
	debootstrap --variant=minbase "$debian_suite" "$rootfs" "$mirror" >"$kindbin/debootstrap.log" 2>&1 ||
		{ tail -20 "$kindbin/debootstrap.log" >&2; exit 1; }
	tar -C "$rootfs" -c . | docker import - "$debian_image" >/dev/null
	rm -rf "$rootfs"
	trap - EXIT
	log "[1/3] $debian_image imported in $(($(date +%s) - t))s"
fi

# The build context.
ctx=$kindbin/context
rm -rf "$ctx" && mkdir -p "$ctx/images" "$ctx/node-bin" "$ctx/one"
kind_dir=$(cd "$root" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
cp -r "$kind_dir/images/base/files" "$ctx/kind-files" && chmod -R u+w "$ctx/kind-files"
rm -rf "$ctx/kind-files/LICENSES"
cp -r "$root/hack/kind/node" "$ctx/node"
cp "$kindbin/kubelet" "$kindbin/kubeadm" "$kindbin/crictl" "$bin/kubectl" "$ctx/node-bin/"

# 2. Control-plane, CoreDNS and pause images.
t=$(date +%s)
# dbuild ARG...: docker build, quiet (Docker's classic builder: Debian's
# docker.io has no buildx); its output only when it fails.
export DOCKER_BUILDKIT=0
dbuild() {
	docker build -q "$@" >"$kindbin/docker-build.log" 2>&1 || { cat "$kindbin/docker-build.log" >&2; return 1; }
}
one_layer() { # one_layer TAG BINARY PATH-IN-IMAGE [ENTRYPOINT]
	local tag=$1 src=$2 dst=$3 entry=${4:-}
	rm -rf "$ctx/one" && mkdir -p "$ctx/one"
	cp "$src" "$ctx/one/bin"
	{
		echo "FROM scratch"
		echo "COPY bin $dst"
		echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
		[[ -n $entry ]] && echo "ENTRYPOINT [\"$dst\"]"
	} >"$ctx/one/Dockerfile"
	dbuild -t "$tag" "$ctx/one"
	docker save -o "$ctx/images/$(basename "${tag%%:*}").tar" "$tag"
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
	one_layer "registry.k8s.io/$c:$kube_version" "$bin/$c" "/usr/local/bin/$c"
done
one_layer "registry.k8s.io/etcd:$etcd_tag" "$bin/etcd" /usr/local/bin/etcd
one_layer "registry.k8s.io/coredns/coredns:$coredns_version" "$kindbin/coredns" /coredns entry
one_layer "registry.k8s.io/pause:$pause_tag" "$kindbin/pause" /pause entry
rm -rf "$ctx/one" && mkdir -p "$ctx/one"
cp "$bin/kube-proxy" "$ctx/one/kube-proxy"
dbuild --build-arg "DEBIAN_IMAGE=$debian_image" -f "$root/hack/kind/node/Dockerfile.kube-proxy" \
	-t "registry.k8s.io/kube-proxy:$kube_version" "$ctx/one"
docker save -o "$ctx/images/kube-proxy.tar" "registry.k8s.io/kube-proxy:$kube_version"
# The images scenarios name besides ours, which the local cluster resolves
# to local executables: busybox and a netshoot stand-in.
for i in "busybox busybox:1.36" "netshoot nicolaka/netshoot:latest"; do
	set -- $i
	dbuild --build-arg "DEBIAN_IMAGE=$debian_image" -f "$root/hack/kind/node/Dockerfile.$1" -t "$2" "$ctx/one"
	docker save -o "$ctx/images/$1.tar" "$2"
done
rm -rf "$ctx/one"
log "[2/3] control-plane, CoreDNS, pause and scenario images built in $(($(date +%s) - t))s"

# 3. The node.
t=$(date +%s)
docker build -t "$node_image" -f "$ctx/node/Dockerfile" \
	--build-arg "DEBIAN_IMAGE=$debian_image" --build-arg "PAUSE_TAG=$pause_tag" \
	--build-arg "KUBE_VERSION=$kube_version" --build-arg "INPUTS=$inputs" \
	"$ctx" >"$kindbin/node-image-build.log" 2>&1 || { tail -30 "$kindbin/node-image-build.log" >&2; exit 1; }
log "[3/3] node image $node_image built in $(($(date +%s) - t))s (log: $kindbin/node-image-build.log)"
rm -rf "$ctx"
log "node image ready in $(($(date +%s) - start))s"
