#!/usr/bin/env bash
# Lint the labextension's TypeScript, CSS and JSON: Prettier formatting, then ESLint (the config is in
# labextension/package.json). Exits non-zero when either finds a problem; `cd labextension && jlpm lint`
# fixes what can be fixed automatically.
set -euo pipefail
cd "$(dirname "$0")/../labextension"

if ! command -v jlpm >/dev/null 2>&1; then
  python -m pip install -q 'jupyterlab>=4'
fi

# node_modules is current when it is newer than both package.json and yarn.lock
if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ yarn.lock -nt node_modules ]; then
  jlpm install --immutable
  touch node_modules
fi

jlpm lint:check
