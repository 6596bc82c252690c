"""A real flyte-jupyter backend process for tests (shared by the backend, kernel and lab tests).

    with BackendProcess(tmp_path / "backend") as backend:
        backend.use()                      # flyte.init_from_config(backend.client_yaml)
        run = flyte.run(main, n=3)

It binds a free loopback port, waits until `DIR/client.yaml` names its pid, and is stopped by PID
(SIGTERM, then SIGKILL). `kill()` SIGKILLs it and `start()` again restarts it on the same port and
data dir (crash-recovery tests). `kill_actions()` stops action processes left behind (they survive a
backend SIGKILL by design), by the process groups recorded in the backend's database.

`store_url` (a `postgresql://` URL, see `_postgres_fixture.py`) puts its state in that database
instead of `DIR/state.db` (merged into the `--config` file, if any); `execute` changes the state
behind the backend's back (crash tests), whichever database holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BackendProcess:
    def __init__(self, data_dir: Path, port: int | None = None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None, store_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.store_url = store_url
        self.env = env
        self.proc: subprocess.Popen | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> "BackendProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "backend-test.log", "ab")
        cmd = [sys.executable, "-m", "flyte_jupyter.backend", "--data-dir", str(self.data_dir),
               "--port", str(self.port), *self._args()]
        from _server_process import dying_with_this_process

        # a killed test run (even by SIGKILL) takes its backends, and so their actions, along
        self.proc = subprocess.Popen(dying_with_this_process(cmd), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **(self.env or {})}, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backend exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            values = self.client_values()
            if values.get("pid") == self.proc.pid:
                return self
            time.sleep(0.05)
        raise TimeoutError(f"backend did not start within {timeout} s:\n{self.log_text()[-3000:]}")

    def _args(self) -> list[str]:
        if not self.store_url:
            return self.extra_args
        args, config = list(self.extra_args), {}
        if "--config" in args:
            at = args.index("--config")
            config = yaml.safe_load(Path(args[at + 1]).read_text()) or {}
            del args[at:at + 2]
        config["store"] = {"url": self.store_url}
        path = self.data_dir / "backend-store.yaml"
        path.write_text(yaml.safe_dump(config))
        return [*args, "--config", str(path)]

    def execute(self, sql: str, params: tuple = ()) -> int:
        """Run one statement (`?` placeholders) on the backend's database, committed; its rowcount."""
        if self.store_url:
            import psycopg

            with psycopg.connect(self.store_url, autocommit=True) as pg:
                return pg.execute(sql.replace("?", "%s"), params).rowcount
        conn = sqlite3.connect(str(self.data_dir / "state.db"), timeout=10)
        try:
            with conn:
                return conn.execute(sql, params).rowcount
        finally:
            conn.close()

    def recorded_handles(self) -> list[str]:
        """The attempt handles the backend has written to its store (an attempt's handle is
        recorded a moment after it starts: a crash before that leaves it unrecorded)."""
        if self.store_url:
            import psycopg

            try:
                with psycopg.connect(self.store_url, connect_timeout=5) as pg:
                    return [r[0] for r in pg.execute("SELECT handle FROM actions WHERE handle != ''")]
            except psycopg.Error:
                return []
        db = self.data_dir / "state.db"
        if not db.exists():
            return []
        try:
            conn = sqlite3.connect(str(db), timeout=5)
            handles = [r[0] for r in conn.execute("SELECT handle FROM actions WHERE handle != ''")]
            conn.close()
        except sqlite3.Error:
            return []
        return handles

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL the backend (its action processes keep running)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def kill_actions(self) -> None:
        """SIGKILL every action process group the backend recorded that is still alive."""
        for handle in self.recorded_handles():
            parts = handle.split(":")  # "PID:START", or a plugin's "dask:SCHEDULER:PID:START"
            if len(parts) < 2 or not parts[-2].isdigit():
                continue  # a handle of a plugin that runs no process of its own (sql)
            pid = int(parts[-2])
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def __enter__(self) -> "BackendProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.kill_actions()

    # -- facts ------------------------------------------------------------------------------------

    @property
    def client_yaml(self) -> Path:
        return self.data_dir / "client.yaml"

    def client_values(self) -> dict[str, Any]:
        try:
            return yaml.safe_load(self.client_yaml.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}

    @property
    def endpoint(self) -> str:
        return self.client_values()["endpoint"]

    @property
    def token(self) -> str:
        return self.client_values()["api_key"]

    def log_text(self) -> str:
        try:
            return (self.data_dir / "backend-test.log").read_text(errors="replace")
        except OSError:
            return ""

    def client(self) -> Any:
        from flyte_jupyter._internal.client.grpc_client import BackendClient

        return BackendClient.from_file(self.client_yaml)

    def use(self) -> None:
        """Point the SDK at this backend (remote mode)."""
        import flyte_jupyter as flyte

        flyte.init_from_config(str(self.client_yaml))
