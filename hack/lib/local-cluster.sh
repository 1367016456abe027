# Sourced by hack/conformance.sh and hack/publish-report.sh: a local cluster
# the script starts goes down again when the script exits (or earlier, when
# it calls stop_local_cluster); one that was already running is left alone.
#
# start_local_cluster SAY  runs `gammaproof cluster up` and arms the EXIT
#                          trap; SAY is a command that prints a progress line
# stop_local_cluster       takes down the cluster start_local_cluster
#                          started, if any; a second call does nothing
# Needs $bin set by the caller.
local_cluster_started=
local_cluster_say=echo

start_local_cluster() {
	local t
	local_cluster_say=$1
	"$local_cluster_say" "starting the local cluster"
	local_cluster_started=1
	trap stop_local_cluster EXIT
	t=$(date +%s)
	"$bin/gammaproof" cluster up
	"$local_cluster_say" "local cluster up in $(($(date +%s) - t))s"
}

stop_local_cluster() {
	if [[ -n $local_cluster_started ]]; then
		"$local_cluster_say" "stopping the local cluster this run started"
		"$bin/gammaproof" cluster down || true
		local_cluster_started=
	fi
}
