#!/usr/bin/env bash
# hack/tools.sh installs the project's pinned tools into a cache directory
# outside the repository, once, and reuses them afterwards.
#
#   hack/tools.sh all              everything below
#   hack/tools.sh controller-gen   bin/controller-gen
#   hack/tools.sh helm             bin/helm
#   hack/tools.sh kube             kube/VERSION/{etcd,kube-apiserver,kubectl} (+ iproute2)
#   hack/tools.sh env              export lines for eval: KUBEBUILDER_ASSETS, PATH
#
# Cache: ${AIMESH_CACHE:-$HOME/.cache/aimesh}. Exit code 3 means a system
# prerequisite is missing (not root, or no apt-get) so callers can skip.
set -euo pipefail

CONTROLLER_GEN_VERSION=v0.23.0
HELM_VERSION=v3.22.0
KUBE_VERSION=v1.37.2
# The staging modules (k8s.io/api, client-go, ...) are tagged v0.X.Y for v1.X.Y.
KUBE_STAGING_VERSION=v0.${KUBE_VERSION#v1.}

CACHE=${AIMESH_CACHE:-$HOME/.cache/aimesh}
BIN=$CACHE/bin
KUBE_DIR=$CACHE/kube/$KUBE_VERSION
LOG_DIR=$CACHE/logs

EXIT_MISSING_PREREQ=3

# Staging modules that k8s.io/kubernetes replaces with ./staging/src/...;
# a consumer module must pin each to its released version instead.
KUBE_STAGING_MODULES=(
	api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
	cloud-provider cluster-bootstrap code-generator component-base component-helpers
	controller-manager cri-api cri-client cri-streaming csi-translation-lib
	dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
	kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
	pod-security-admission sample-apiserver streaming
)

log() { printf 'tools.sh: %s\n' "$*" >&2; }

die_prereq() {
	log "$*"
	exit "$EXIT_MISSING_PREREQ"
}

# stamped NAME VERSION: true when BIN/NAME exists and was installed at VERSION.
stamped() {
	local bin=$1 version=$2
	[[ -x $bin && -f $bin.version && "$(<"$bin.version")" == "$version" ]]
}

# with_lock NAME CMD...: run CMD holding an exclusive lock, so two callers
# (say CI and a developer's shell) never build the same tool at once.
with_lock() {
	local name=$1
	shift
	mkdir -p "$CACHE/locks"
	(
		flock 9
		"$@"
	) 9>"$CACHE/locks/$name.lock"
}

go_install_pinned() {
	local name=$1 pkg=$2 version=$3
	if stamped "$BIN/$name" "$version"; then
		log "$name $version: cached at $BIN/$name"
		return 0
	fi
	mkdir -p "$BIN"
	log "$name $version: installing"
	local start=$SECONDS
	GOBIN=$BIN GOFLAGS=-buildvcs=false go install "$pkg@$version"
	printf '%s\n' "$version" >"$BIN/$name.version"
	log "$name $version: installed in $((SECONDS - start))s"
}

install_controller_gen() {
	with_lock controller-gen go_install_pinned controller-gen \
		sigs.k8s.io/controller-tools/cmd/controller-gen "$CONTROLLER_GEN_VERSION"
}

install_helm() {
	with_lock helm go_install_pinned helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
}

# apt_ensure PKG...: install the Debian packages that are not installed yet.
apt_ensure() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null ||
		die_prereq "apt-get not found: install ${missing[*]} by hand, then rerun"
	[[ $(id -u) == 0 ]] ||
		die_prereq "not root: run 'apt-get install -y --no-install-recommends ${missing[*]}' as root, then rerun"
	log "apt: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# An image's package lists may be empty or stale: refresh once and retry.
	if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
		apt-get update >&2
		apt-get install -y --no-install-recommends "${missing[@]}" >&2
	fi
}

install_etcd() {
	apt_ensure etcd-server
	mkdir -p "$KUBE_DIR"
	ln -sfn /usr/bin/etcd "$KUBE_DIR/etcd"
}

# kube_module_dir writes a throwaway module that requires k8s.io/kubernetes
# and pins the staging modules, so its commands can be built with go build.
kube_module_dir() {
	local dir=$CACHE/src/kubernetes-$KUBE_VERSION m
	mkdir -p "$dir"
	if [[ ! -f $dir/go.sum ]]; then
		{
			printf 'module aimesh.local/kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBE_VERSION"
			for m in "${KUBE_STAGING_MODULES[@]}"; do
				printf 'replace k8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$KUBE_STAGING_VERSION"
			done
		} >"$dir/go.mod"
		cat >"$dir/tools.go" <<'GO'
//go:build tools

package kubebuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
		(cd "$dir" && GOWORK=off GOFLAGS=-mod=mod go mod tidy) >&2
	fi
	printf '%s\n' "$dir"
}

# kube_build NAME: build k8s.io/kubernetes/cmd/NAME into KUBE_DIR.
kube_build() {
	local name=$1
	if stamped "$KUBE_DIR/$name" "$KUBE_VERSION"; then
		log "$name $KUBE_VERSION: cached at $KUBE_DIR/$name"
		return 0
	fi
	local dir minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	dir=$(kube_module_dir)
	mkdir -p "$KUBE_DIR" "$LOG_DIR"
	local logf=$LOG_DIR/$name-$KUBE_VERSION.log start=$SECONDS
	log "$name $KUBE_VERSION: building (log: $logf; kube-apiserver takes ~10 min on 2 cores)"
	if ! (cd "$dir" && GOWORK=off GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w \
		-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
		-X k8s.io/component-base/version.gitMajor=1 \
		-X k8s.io/component-base/version.gitMinor=$minor" \
		-o "$KUBE_DIR/$name.tmp" "k8s.io/kubernetes/cmd/$name") >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		log "$name $KUBE_VERSION: build failed (log: $logf)"
		return 1
	fi
	mv -f "$KUBE_DIR/$name.tmp" "$KUBE_DIR/$name"
	printf '%s\n' "$KUBE_VERSION" >"$KUBE_DIR/$name.version"
	log "$name $KUBE_VERSION: built in $((SECONDS - start))s"
}

install_kube() {
	# iproute2 gives tests `ip netns` for their test hosts.
	apt_ensure etcd-server iproute2
	install_etcd
	with_lock kube-apiserver kube_build kube-apiserver
	with_lock kubectl kube_build kubectl
}

print_env() {
	printf 'export AIMESH_CACHE=%q\n' "$CACHE"
	printf 'export KUBEBUILDER_ASSETS=%q\n' "$KUBE_DIR"
	printf 'export PATH=%q:%q:"$PATH"\n' "$BIN" "$KUBE_DIR"
}

main() {
	local cmd=${1:-all}
	case $cmd in
	all)
		install_controller_gen
		install_helm
		install_kube
		;;
	controller-gen) install_controller_gen ;;
	helm) install_helm ;;
	kube) install_kube ;;
	env) print_env ;;
	-h | --help | help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
	*)
		log "unknown command '$cmd' (want all|controller-gen|helm|kube|env)"
		exit 2
		;;
	esac
}

main "$@"
