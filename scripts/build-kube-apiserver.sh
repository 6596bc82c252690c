#!/bin/bash
# Build a real kube-apiserver v1.20.2 offline from Debian bookworm's `kubernetes` source package, so
# that the Kubernetes executor's tests run against a real API server on machines without a cluster.
# Needs only Debian apt (run as root). Usage: build-kube-apiserver.sh WORKDIR -> WORKDIR/bin/kube-apiserver
# .ci/setup-k8s.sh caches the result keyed by a hash of this file: any edit here triggers a rebuild.
set -euo pipefail
W=${1:?usage: build-kube-apiserver.sh WORKDIR}
mkdir -p "$W"/{apt/lists/partial,apt/cache/archives/partial,src,bin}; W=$(cd "$W" && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends golang-go etcd-server golang-github-modern-go-reflect2-dev \
  dpkg-dev >/dev/null
# deb-src through a private sources list (does not touch /etc/apt), from the mirror this machine already uses
URI=$(grep -rhoE '^URIs: *[^ ]+/debian$' /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | sed 's/^URIs: *//' || true)
[ -n "$URI" ] || URI=$(grep -hoE '^deb +[^ ]+/debian +' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
[ -n "$URI" ] || { echo "build-kube-apiserver: no Debian mirror found in /etc/apt sources" >&2; exit 1; }
echo "deb-src $URI bookworm main" > "$W/apt/sources.list"
O="-o Dir::Etc::sourcelist=$W/apt/sources.list -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists=$W/apt/lists -o Dir::Cache=$W/apt/cache"
apt-get $O update >/dev/null
(cd "$W/src" && apt-get $O source --download-only kubernetes=1.20.5+really1.20.2-1.1+deb12u1 >/dev/null)
K="$W/src/k8s"; rm -rf "$K"; mkdir -p "$K"
tar xzf "$W"/src/kubernetes_1.20.5+really1.20.2.orig.tar.gz -C "$K" --strip-components=1   # full tree incl. vendor/
# 1) the vendored reflect2 v1.0.1 crashes the apiserver under Go >= 1.18 (mapiterinit fault): use Debian's 1.0.2
rm -rf "$K/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$K/vendor/github.com/modern-go/reflect2"
find "$K/vendor/github.com/modern-go/reflect2" -name '*_test.go' -delete
# 2) GOPATH mode (the 1.20 go.mod is not accepted by go1.19 with -mod=vendor)
mkdir -p "$K/.go/src/k8s.io"; ln -sfn ../../.. "$K/.go/src/k8s.io/kubernetes"
export GOPATH="$K/.go" GOCACHE="${GOCACHE:-$W/gocache}" GO111MODULE=off GOPROXY=off CGO_ENABLED=0
cd "$K/.go/src/k8s.io/kubernetes"
# 3) pkg/generated/openapi/zz_generated.openapi.go is not in the tarball: generate it with the vendored tool
go build -o "$W/bin/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
DIRS=$(find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) -type f -name '*.go' \
  | sed 's|^./staging/src|vendor|; s|^./||' | grep -vE '^vendor/k8s.io/(code-generator|sample-apiserver)/' \
  | xargs grep -l '^// *+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
"$W/bin/openapi-gen" --logtostderr -i "$DIRS" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
   -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$W/openapi_violations.report" 2>/dev/null
V=k8s.io/kubernetes/vendor/k8s.io/component-base/version
go build -ldflags "-s -w -X $V.gitVersion=v1.20.2 -X $V.gitMajor=1 -X $V.gitMinor=20" \
  -o "$W/bin/kube-apiserver" ./cmd/kube-apiserver
"$W/bin/kube-apiserver" --version
