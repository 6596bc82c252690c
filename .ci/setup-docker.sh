#!/bin/bash
# Docker test prerequisites: Debian's docker.io (dockerd, containerd, runc), debootstrap, busybox-static
# and docker-registry, plus two base-image root filesystems built once per machine and cached under
#   ~/.cache/flyte-jupyter/docker-base/<hash of this script>/
#     debian-bookworm.tar   debootstrap'd bookworm (minbase) with python3, pip, venv, `python`
#     busybox.tar           a static busybox with its applets as symlinks
#     images.json           what the tests import (`docker import`): file, repository:tag, changes
# No image registry is reachable from these machines, so these tarballs are the only base images:
# the tests' private dockerd (tests/docker/conftest.py) imports them at session start. This script
# starts no daemon. Idempotent; well under a second when everything is in place. The first build
# (debootstrap from apt's configured Debian mirror) takes a few minutes.
set -euo pipefail
HASH=$(sha256sum "$0" | cut -c1-16)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flyte-jupyter/docker-base/$HASH"
MANIFEST="$CACHE/images.json"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-docker: installing ${missing[*]}"
  # policy-rc.d (when present) keeps the packages from starting a system-wide dockerd.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if [ -s "$MANIFEST" ]; then
  echo "setup-docker: base images cached in $CACHE"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-docker: building the base root filesystems needs root (debootstrap); skipped" >&2
  exit 0
fi
mkdir -p "$CACHE"
# One build per machine even when several setups run at once: the second waits for the first.
exec 9>"$CACHE/.lock"
flock 9
if [ -s "$MANIFEST" ]; then
  echo "setup-docker: base images cached in $CACHE"
  exit 0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/docker-base-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The Debian mirror apt already uses (deb822 .sources first, then one-line sources.list).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | grep -v -- '-security' | head -n1 || true)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | head -n1 || true)
fi

# --- Debian bookworm with python3 -----------------------------------------------------------------
ROOTFS="$WORK/debian"
started=$(date +%s)
echo "setup-docker: debootstrap bookworm into $ROOTFS (a few minutes, once per machine)"
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
  bookworm "$ROOTFS" ${mirror:+"$mirror"} >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
# A container base, like the official Python images: pip may install into the system interpreter
# (PEP 668's marker removed), no package caches, no lists (a Dockerfile's `apt-get update` fetches them).
rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
  "$ROOTFS"/root/.cache
py=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
tar --numeric-owner -C "$ROOTFS" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -cf "$WORK/debian-bookworm.tar" .
echo "setup-docker: Debian bookworm (python $py) built in $(( $(date +%s) - started ))s"

# --- busybox --------------------------------------------------------------------------------------
BB="$WORK/busybox"
mkdir -p "$BB/bin" "$BB/etc" "$BB/tmp" "$BB/root" "$BB/dev" "$BB/proc" "$BB/sys"
chmod 1777 "$BB/tmp"
cp /bin/busybox "$BB/bin/busybox"
for applet in $("$BB/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$BB/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$BB/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$BB/etc/group"
tar --numeric-owner -C "$BB" -cf "$WORK/busybox.tar" .
# sed reads the whole help text: `| head -n1` would close the pipe early, and busybox's SIGPIPE (141)
# fails the script under pipefail whenever the text outgrows the pipe's buffer before head exits.
bbver=$("$BB/bin/busybox" | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p')

mv "$WORK/debian-bookworm.tar" "$WORK/busybox.tar" "$CACHE/"
cat >"$MANIFEST.tmp" <<EOF
{
  "images": [
    {"name": "debian", "file": "debian-bookworm.tar", "tag": "flyte-jupyter-base/debian:bookworm",
     "python": "$py",
     "changes": ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
                 "CMD [\"python3\"]"]},
    {"name": "busybox", "file": "busybox.tar", "tag": "flyte-jupyter-base/busybox:${bbver:-latest}",
     "changes": ["ENV PATH=/bin", "CMD [\"sh\"]"]}
  ]
}
EOF
mv "$MANIFEST.tmp" "$MANIFEST"
echo "setup-docker: base images cached in $CACHE"
