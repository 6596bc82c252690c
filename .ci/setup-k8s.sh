#!/bin/bash
# Kubernetes executor test prerequisites: etcd and kubectl from Debian, and a kube-apiserver binary built
# from source once per machine (about 10 minutes on 2 cores) and cached under
#   ~/.cache/flyte-jupyter/kube-apiserver/<hash of scripts/build-kube-apiserver.sh>/bin/kube-apiserver
# Idempotent; takes well under a second when everything is already in place.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT="$ROOT/scripts/build-kube-apiserver.sh"
HASH=$(sha256sum "$SCRIPT" | cut -c1-16)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flyte-jupyter/kube-apiserver/$HASH"
BIN="$CACHE/bin/kube-apiserver"

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-k8s: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if [ -x "$BIN" ]; then
  echo "setup-k8s: kube-apiserver cached at $BIN"
  exit 0
fi
mkdir -p "$CACHE"
# One build per machine even when several setups run at once: the second waits for the first.
exec 9>"$CACHE/.lock"
flock 9
if [ ! -x "$BIN" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-apiserver-build.XXXXXX")
  echo "setup-k8s: building kube-apiserver in $WORK (about 10 minutes, once per machine)"
  bash "$SCRIPT" "$WORK"
  mkdir -p "$CACHE/bin"
  cp "$WORK/bin/kube-apiserver" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
  rm -rf "$WORK"
fi
echo "setup-k8s: kube-apiserver cached at $BIN"
