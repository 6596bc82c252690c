"""The embedded backend's lifecycle, for the zero-configuration path.

`ensure_backend()` returns the client.yaml of a running backend under the data directory, starting
one in the background when none runs (`with_runcontext(mode="remote")` with nothing configured,
the notebook magics, the Jupyter server extension). `start_backend`, `stop_backend` and
`backend_status` back `flyte-jupyter backend start|stop|status`.

The backend is a separate process (`python -m flyte_jupyter.backend`), in its own session so that
it outlives the kernel that started it; it writes DIR/backend.pid and, once it listens,
DIR/client.yaml (endpoint and token, mode 0600).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flyte_jupyter._internal.runtime.paths import embedded_backend_dir

DEFAULT_PORT = 8090


@dataclasses.dataclass
class BackendInfo:
    """What `backend status` reports about a data directory."""

    data_dir: Path
    running: bool
    pid: int | None = None
    endpoint: str | None = None
    client_yaml: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"data_dir": str(self.data_dir), "running": self.running, "pid": self.pid,
                "endpoint": self.endpoint, "client_yaml": str(self.client_yaml) if self.client_yaml else None}


def _alive(pid: int) -> bool:
    """A live (not zombie) backend process: a recycled pid of another program does not count."""
    from flyte_jupyter._internal.runtime.process import pid_exists

    if not pid_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read()
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[-1].split()[0]
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    return state != b"Z" and b"flyte_jupyter.backend" in cmd


def _read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "backend.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        with open(path) as fh:
            return yaml.safe_load(fh) or {}
    except OSError:
        return {}


def backend_status(data_dir: str | Path | None = None) -> BackendInfo:
    """Whether a backend runs for `data_dir`, with its pid and endpoint."""
    d = Path(data_dir).expanduser().resolve() if data_dir else embedded_backend_dir()
    pid = _read_pid(d)
    client_yaml = d / "client.yaml"
    if pid is None or not _alive(pid):
        return BackendInfo(d, False)
    values = _read_yaml(client_yaml)
    endpoint = values.get("endpoint") if values.get("pid") == pid else None
    return BackendInfo(d, True, pid, endpoint, client_yaml if endpoint else None)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_backend(
    data_dir: str | Path | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    *,
    extra_args: list[str] | None = None,
    timeout: float = 60.0,
    log_file: str | Path | None = None,
) -> BackendInfo:
    """Start a backend in the background (or return the one already running for `data_dir`) and
    wait until it listens. `port=None` uses 8090, or a free port when 8090 is taken; 0 = any."""
    d = Path(data_dir).expanduser().resolve() if data_dir else embedded_backend_dir()
    d.mkdir(parents=True, exist_ok=True)
    import fcntl

    # Two kernels asking at once must not start two backends on one data dir.
    with open(d / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _start_locked(d, port, host, extra_args, timeout, log_file)


def _start_locked(d: Path, port: int | None, host: str, extra_args: list[str] | None, timeout: float,
                  log_file: str | Path | None) -> BackendInfo:
    info = backend_status(d)
    if info.running and info.endpoint:
        return info
    if info.running and info.pid is not None:  # starting up right now: wait for it (running implies a pid)
        return _wait_ready(d, info.pid, timeout, None)
    if port is None:
        # Prefer the port of the last start: actions that outlived a crash dial it to reconnect.
        previous = _read_yaml(d / "client.yaml").get("endpoint", "")
        last = int(previous.rsplit(":", 1)[1]) if previous.rsplit(":", 1)[-1].isdigit() else None
        port = next((p for p in (last, DEFAULT_PORT) if p and _port_free(host, p)), 0)
    try:
        os.unlink(d / "client.yaml")
    except OSError:
        pass
    cmd = [sys.executable, "-m", "flyte_jupyter.backend", "--data-dir", str(d), "--host", host, "--port", str(port),
           *(extra_args or [])]
    log_path = Path(log_file) if log_file else d / "backend.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True)
    return _wait_ready(d, proc.pid, timeout, proc, log_path)


def _wait_ready(d: Path, pid: int, timeout: float, proc: subprocess.Popen | None, log_path: Path | None = None) -> BackendInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = ""
            if log_path and log_path.exists():
                tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the backend exited with code {proc.returncode} while starting:\n{tail}")
        values = _read_yaml(d / "client.yaml")
        if values.get("pid") == pid and values.get("endpoint"):
            return BackendInfo(d, True, pid, values["endpoint"], d / "client.yaml")
        time.sleep(0.05)
    raise TimeoutError(f"the backend in {d} did not start within {timeout:.0f} s; see {d / 'backend.log'}")


def stop_backend(data_dir: str | Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the backend of `data_dir` (SIGTERM, then SIGKILL after `timeout`) and wait until it is
    gone; False if none ran. Its fork servers and idle workers end with it (even after a SIGKILL:
    they die with their parent); running actions are not killed: a later start reattaches to them
    (or kills those whose run ended meanwhile)."""
    info = backend_status(data_dir)
    if not info.running or info.pid is None:
        return False
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if _wait_gone(info.pid, timeout):
        return True
    try:
        os.kill(info.pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    _wait_gone(info.pid, 10.0)  # so that a start right after this one never meets the old backend
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def ensure_backend(data_dir: str | Path | None = None) -> Path:
    """The client.yaml of a running embedded backend, starting one if needed."""
    info = start_backend(data_dir)
    assert info.client_yaml is not None
    return info.client_yaml
