#!/usr/bin/env bash
# hack/kind/engine.sh run CMD [ARG...]
#
# Runs CMD with a Docker engine answering. When `docker info` answers
# already, CMD just runs against it. Otherwise dockerd (Debian's docker.io,
# installed with apt when missing) is started for CMD and stopped after it,
# and what dockerd changed on the host is put back:
#   - the nftables tables it created (iptables-nft: FORWARD policy DROP,
#     DOCKER chains, NAT), and tables that existed before restored as they were;
#   - the bridge netfilter sysctls (dockerd turns bridge filtering on);
#   - the bridges it created (docker0, the kind network's).
# Kind node containers still running at the end are removed first.
#
# dockerd gets its own config: docker0 and the `kind` network inside
# 198.18.0.0/15 (198.19.254.0/24 and 198.19.255.0/24), and, only when this
# machine's capability bounding set is incomplete (some VMs drop
# CAP_SYS_RESOURCE from every process, so runc cannot start a privileged
# container), bin/kind/kind-runc as the default runtime: it removes the
# missing capabilities from each container's spec.
#
# The `kind` network is created with that subnet when missing, whoever
# started dockerd.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

kind_subnet=198.19.255.0/24
kind_gateway=198.19.255.1
docker0_bip=198.19.254.1/24
state=$kindbin/engine
started=""

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

# caps_missing prints the capabilities the kernel has that this process's
# bounding set lacks (their numbers).
caps_missing() {
	local last bnd i
	last=$(cat /proc/sys/kernel/cap_last_cap)
	bnd=$((16#$(awk '/^CapBnd:/{print $2}' /proc/self/status)))
	for ((i = 0; i <= last; i++)); do
		((bnd >> i & 1)) || echo -n "$i "
	done
}

# is_iptables_table FAMILY NAME: whether the nft table is one of
# iptables-nft's, the only ones dockerd changes (others are left alone).
is_iptables_table() {
	[[ $1 == ip || $1 == ip6 ]] && [[ $2 =~ ^(filter|nat|mangle|raw|security)$ ]]
}

save_host_state() {
	rm -rf "$state" && mkdir -p "$state/tables"
	if command -v nft >/dev/null; then
		nft list tables 2>/dev/null | awk '{print $2, $3}' | while read -r fam name; do
			if is_iptables_table "$fam" "$name"; then echo "$fam $name"; fi
		done >"$state/tables.before"
		while read -r fam name; do
			nft list table "$fam" "$name" >"$state/tables/$fam-$name.nft"
		done <"$state/tables.before"
	else
		log "nft not found: only the FORWARD policy and sysctls are put back after dockerd"
		iptables -S FORWARD 2>/dev/null | awk '$1=="-P"{print $3}' >"$state/forward.policy" || true
	fi
	for s in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
		[[ -e /proc/sys/net/bridge/$s ]] && echo "$s $(cat /proc/sys/net/bridge/$s)" >>"$state/sysctl.before"
	done
	touch "$state/sysctl.before"
	ip -o link show type bridge | awk -F': ' '{print $2}' | sort >"$state/bridges.before"
}

restore_host_state() {
	local fam name s v
	if [[ -f $state/tables.before ]] && command -v nft >/dev/null; then
		nft list tables 2>/dev/null | awk '{print $2, $3}' | while read -r fam name; do
			if is_iptables_table "$fam" "$name"; then
				nft delete table "$fam" "$name" || log "could not delete nft table $fam $name"
			fi
		done
		while read -r fam name; do
			nft -f "$state/tables/$fam-$name.nft" || log "could not restore nft table $fam $name"
		done <"$state/tables.before"
	elif [[ -s $state/forward.policy ]]; then
		iptables -P FORWARD "$(cat "$state/forward.policy")" || true
	fi
	for s in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
		[[ -e /proc/sys/net/bridge/$s ]] || continue
		v=$(awk -v s="$s" '$1==s{print $2}' "$state/sysctl.before")
		echo "${v:-0}" >"/proc/sys/net/bridge/$s"
	done
	ip -o link show type bridge | awk -F': ' '{print $2}' | sort | comm -13 "$state/bridges.before" - | while read -r b; do
		ip link delete "$b" || true
	done
}

start_dockerd() {
	if ! command -v dockerd >/dev/null; then
		log "installing Debian's docker.io (no dockerd found)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
	fi
	save_host_state
	local runtime="" missing
	missing=$(caps_missing)
	if [[ -n $missing ]]; then
		[[ -x $kindbin/kind-runc ]] || { echo "kind: $kindbin/kind-runc missing: run hack/kind/build-bins.sh (make kind-node-bins)" >&2; exit 1; }
		log "capability bounding set lacks capabilities $missing: dockerd runs containers through $kindbin/kind-runc"
		runtime=",\"runtimes\":{\"kind-runc\":{\"path\":\"$kindbin/kind-runc\"}},\"default-runtime\":\"kind-runc\""
	fi
	cat >"$state/daemon.json" <<-JSON
		{"bip":"$docker0_bip","default-address-pools":[{"base":"198.19.248.0/22","size":24}],"log-driver":"json-file"$runtime}
	JSON
	log "starting dockerd (none answered); log: $state/dockerd.log"
	dockerd --config-file "$state/daemon.json" --pidfile "$state/dockerd.pid" >"$state/dockerd.log" 2>&1 &
	echo $! >"$state/dockerd.started"
	started=yes
	for _ in $(seq 1 60); do
		engine_answers && return 0
		kill -0 "$(cat "$state/dockerd.started")" 2>/dev/null || break
		sleep 1
	done
	echo "kind: dockerd did not answer within 60s; its log:" >&2
	tail -20 "$state/dockerd.log" >&2
	return 1
}

stop_dockerd() {
	[[ -n $started ]] || return 0
	started=""
	local pid
	pid=$(cat "$state/dockerd.started")
	local ids
	ids=$(docker ps -aq --filter label=io.x-k8s.kind.cluster 2>/dev/null || true)
	if [[ -n $ids ]]; then
		log "removing kind node containers left running"
		# shellcheck disable=SC2086
		docker rm -f $ids >/dev/null || true
	fi
	log "stopping dockerd (pid $pid) and putting back the host's netfilter state"
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill -9 "$pid" 2>/dev/null || true
	restore_host_state
}

ensure_kind_network() {
	local subnet
	subnet=$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
	if [[ -z $subnet ]]; then
		log "creating docker network kind ($kind_subnet)"
		docker network create --driver bridge --subnet "$kind_subnet" --gateway "$kind_gateway" \
			-o com.docker.network.bridge.enable_ip_masquerade=true -o com.docker.network.driver.mtu=1500 kind >/dev/null
	elif [[ " $subnet " != *" $kind_subnet "* ]]; then
		log "docker network kind exists with subnet $subnet (not $kind_subnet): kind uses it as it is"
	fi
}

case "${1:-}" in
run)
	shift
	[[ $# -gt 0 ]] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }
	trap stop_dockerd EXIT
	trap 'exit 130' INT TERM
	engine_answers || start_dockerd
	ensure_kind_network
	"$@"
	;;
*)
	echo "usage: $0 run CMD [ARG...]   (runs CMD with dockerd answering; starts and stops it when needed)" >&2
	exit 2
	;;
esac
