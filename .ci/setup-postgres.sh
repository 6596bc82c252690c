#!/usr/bin/env bash
# The PostgreSQL server binaries the `postgres` tests start (tests/_postgres_fixture.py): the Debian
# package, installed only when no /usr/lib/postgresql/*/bin/initdb is there. The package's own
# cluster is not used (the tests initdb their own into a temp dir), so it is not started.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
