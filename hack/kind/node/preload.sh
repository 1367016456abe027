#!/bin/bash
# Runs during `docker build`: imports the control-plane, CoreDNS and pause
# images (docker-save archives in /kind/images) into the node's containerd,
# pinned so kubelet never garbage-collects them, without unpacking (the
# node unpacks at first use).
set -euo pipefail
containerd >/var/log/containerd-preload.log 2>&1 &
pid=$!
for _ in $(seq 1 30); do [[ -S /run/containerd/containerd.sock ]] && break; sleep 1; done
ctr version >/dev/null
for t in /kind/images/*.tar; do
	ctr --namespace=k8s.io images import --no-unpack --all-platforms --digests "$t"
done
# containerd 1.6's import cannot label: pin afterwards.
for ref in $(ctr --namespace=k8s.io images list -q); do
	ctr --namespace=k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
done
ctr --namespace=k8s.io images list -q
kill "$pid"
wait "$pid" || true
rm -rf /kind/images
