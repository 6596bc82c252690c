"""The embedded backend stops with the Jupyter server that started it (issue 18, item 9): a real
`jupyter server` process, stopped the way a user stops it (SIGTERM, or Ctrl-C's SIGINT twice), and
its backend checked by PID. A backend that was running before the server is left running."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from _server_process import dying_with_this_process

from flyte_jupyter._internal.client import embedded as _embedded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _start_server(tmp_path: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str, Any]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    port, token = _free_port(), secrets.token_hex(8)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    env.pop("FLYTE_JUPYTER_CONFIG", None)
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        dying_with_this_process([  # the server goes when a killed test run does
            sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}",
            f"--BackendRunsManager.data_dir={data_dir}"]),
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}", token, log


def _status(url: str, token: str, deadline: float, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """GET /flyte/api/status once the server and its backend answer."""
    while True:
        try:
            request = urllib.request.Request(f"{url}/flyte/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes], how: signal.Signals) -> None:
    os.kill(proc.pid, how)
    if how == signal.SIGINT:  # jupyter_server asks "Shutdown this Jupyter server (y/[n])?" on the first
        time.sleep(0.5)
        os.kill(proc.pid, how)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pytest.fail("the Jupyter server did not stop")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_the_backend_the_server_started_stops_with_it(tmp_path: Path, how: signal.Signals) -> None:
    data_dir = tmp_path / "backend"
    proc, url, token, log = _start_server(tmp_path, data_dir)
    try:
        status = _status(url, token, time.monotonic() + 120, proc)
        assert status["embedded"] is True and status["started_by_server"] is True
        assert status["data_dir"] and status["cpu_capacity"] > 0
        backend = _embedded.backend_status(data_dir)
        assert backend.running and backend.pid
        _stop(proc, how)
        deadline = time.monotonic() + 30
        while _alive(backend.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(backend.pid), (tmp_path / "server.log").read_text()[-3000:]
        assert not _embedded.backend_status(data_dir).running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        _embedded.stop_backend(data_dir)


def test_a_backend_running_before_the_server_is_left_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "backend"
    info = _embedded.start_backend(data_dir, port=0)
    proc, url, token, log = _start_server(tmp_path, data_dir)
    try:
        status = _status(url, token, time.monotonic() + 120, proc)
        assert status["embedded"] is True and status["started_by_server"] is False
        _stop(proc, signal.SIGTERM)
        assert info.pid and _alive(info.pid)
        assert _embedded.backend_status(data_dir).running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        _embedded.stop_backend(data_dir)
