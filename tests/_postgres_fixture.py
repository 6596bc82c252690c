"""A real PostgreSQL server for tests, from the Debian package's binaries.

    with PostgresServer() as pg:
        url = pg.new_database()        # postgresql://postgres@127.0.0.1:PORT/flyte_N, empty

`initdb` into a fresh temp dir, then the `postgres` server itself as our child on a free loopback
port (no Unix socket outside its dir), stopped by PID (SIGINT: fast shutdown; SIGKILL after 20 s).
The server asks the kernel to SIGKILL it when the test process ends (PR_SET_PDEATHSIG), so a pytest
killed with SIGKILL leaves no server behind; its own workers notice the postmaster's death and
exit. As root (CI containers), the server runs as the `postgres` user (PostgreSQL refuses root).
`fsync=off`: the tests kill backends, never this server, and a fsync per commit on a shared CI disk
would only measure the disk.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from _backend_fixture import free_port
from _server_process import ServerProcess, dying_with_this_process

# `params=` of a `backend_store` fixture: the suites that run on both stores (tests/backend, tests/faults).
BOTH_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_bin_dir() -> Path | None:
    """The newest `/usr/lib/postgresql/*/bin` with initdb and postgres (None: not installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _run_as() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")  # the Debian package creates it
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer(ServerProcess):
    log_name = "server.log"
    stop_signal = signal.SIGINT  # fast shutdown: clients are cut, nothing waits
    stop_grace = 20.0

    def __init__(self) -> None:
        bindir = postgres_bin_dir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run .ci/setup-postgres.sh (apt-get install postgresql)")
        self.bindir = bindir
        self.port = free_port()
        # in /tmp itself, not $TMPDIR (a directory of pytest's base temp, mode 0700): the server runs as
        # `postgres`, which must reach it; ServerProcess removes it at stop
        self.dir = Path(tempfile.mkdtemp(prefix="flyte-pg-", dir="/tmp"))
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)
        self._as = _run_as()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        if self._as:
            os.chown(self.dir, self._as["user"], self._as["group"])
        log = open(self.dir / "initdb.log", "wb")
        try:
            subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                            "--no-sync", "-E", "UTF8", "--locale=C"], check=True, stdout=log, stderr=log,
                           timeout=120, **self._as)
        except subprocess.CalledProcessError:
            raise RuntimeError(f"initdb failed:\n{(self.dir / 'initdb.log').read_text()[-3000:]}") from None
        finally:
            log.close()
        log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            dying_with_this_process([
                str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", str(self.dir), "-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"]),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            **self._as)  # setpriv runs after the switch to `postgres`: the death signal is kept
        log.close()
        deadline = time.monotonic() + timeout
        import psycopg

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise TimeoutError(f"postgres did not accept connections within {timeout} s:\n{self.log_text()[-3000:]}")

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = f"flyte_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
