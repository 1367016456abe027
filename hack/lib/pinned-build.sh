# Sourced by the hack/build-*.sh scripts: builds one Go binary from a pinned
# tools module, skipping it when bin/ already holds a build of the same pin.
#
# pinned_build LABEL STEP NAME PACKAGE VERSION PIN LDFLAGS
#   LABEL    prefix of the progress lines ("kube", "istio-echo")
#   STEP     "i/n", the progress counter
#   NAME     the binary's name in $bin
#   PACKAGE  the main package, built from the current directory's module
#   VERSION  what the progress line says is being built
#   PIN      a hash of the module's go.mod and go.sum; the binary is rebuilt
#            when missing or when the pin it was built from differs
#   LDFLAGS  passed to go build
# Needs $bin set by the caller.
pinned_build() {
	local label=$1 step=$2 name=$3 pkg=$4 version=$5 pin=$6 ldflags=$7
	local stamp=$bin/.$name.pin start
	if [[ -x $bin/$name && -f $stamp && $(cat "$stamp") == "$pin" ]]; then
		echo "$label: [$step] $name up to date"
		return
	fi
	echo "$label: [$step] building $name $version (cold builds take minutes)"
	start=$(date +%s)
	CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"
	mv "$bin/$name.tmp" "$bin/$name"
	echo "$pin" >"$stamp"
	echo "$label: [$step] built $name in $(($(date +%s) - start))s"
}

# kube_ldflags VERSION prints the go build -ldflags that stamp a Kubernetes
# binary with VERSION (what `kubectl version` and the kubelet report).
kube_ldflags() {
	local version=$1 major minor pkg flags="-s -w"
	major=${version#v}; major=${major%%.*}
	minor=${version#v*.}; minor=${minor%%.*}
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	echo "$flags"
}
