#!/usr/bin/env bash
# JupyterLab side: Debian's chromium for the browser tests, node deps from the committed lock, and
# the labextension build (into flyte_jupyter/labextension). Idempotent: each step is skipped when
# its result is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "installing Node.js (Debian package) for the labextension build"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
fi

if ! command -v jlpm >/dev/null 2>&1; then
  python -m pip install -q 'jupyterlab>=4'
fi

cd labextension
# node_modules is current when it is newer than both package.json and yarn.lock
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ yarn.lock -nt node_modules ]; then
  jlpm install --immutable
  touch node_modules
fi

out=../flyte_jupyter/labextension/static/style.js
newest_src=$(find src style schema package.json tsconfig.json -type f -newer "$out" 2>/dev/null | head -1 || true)
if [ ! -f "$out" ] || [ -n "$newest_src" ]; then
  jlpm build:prod
else
  echo "labextension up to date"
fi
