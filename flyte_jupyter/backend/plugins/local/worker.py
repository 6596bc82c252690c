"""A warm, reusable worker process: runs one action after another for a reusable environment.

An environment declared with `reusable=flyte.ReusePolicy(replicas=..., idle_ttl=...)` keeps up to
`replicas` of these per (interpreter, environment, version). A worker has imported the SDK and, after
its first action, the task's module, so an action costs what the task body costs: no fork, no
import. Each action starts from the worker's own environment variables plus its own, and the worker
restores its working directory and stdout/stderr after it (each action's output goes to its own
attempt's log files). It runs in its own process group: aborting or timing out an action kills the
worker, and the pool starts a fresh one.

Protocol over the inherited socket (JSON lines):
  backend -> worker  {"id": N, "argv": [...], "env": {...}, "cwd": D, "stdout": F, "stderr": F}
  worker -> backend  {"ready": true, "pid": P} once, then {"id": N, "code": C} per action
The worker exits when the backend's end closes (after finishing the action it runs): an idle
worker is infrastructure and ends with the backend; a busy one is an attempt, which a restarted
backend reattaches to (its handle is the worker's pid) and whose result it reads from storage.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys
import traceback
from typing import cast

from flyte_jupyter.backend.plugins.local.attempt import (
    enter_attempt,
    order_path_of,
    preload,
    preload_grpc,
    run_entrypoint,
)


def _set_env(base: dict[bytes, bytes], delta: dict[str, str]) -> None:
    """Make the environment the worker's own at start (`base`: a copy of `os.environ._data`) plus
    this action's `delta`, touching only the variables that differ from what is set now (consecutive
    actions of one environment mostly set the same values); compared as bytes, without decoding
    every variable."""
    target = dict(base)
    for name, text in delta.items():
        target[os.fsencode(name)] = os.fsencode(text)
    data = os.environ._data  # type: ignore[attr-defined]
    if data == target:
        return
    for key in [k for k in data if k not in target]:
        del os.environ[os.fsdecode(key)]
    for key, value in target.items():
        if data.get(key) != value:
            os.environ[os.fsdecode(key)] = os.fsdecode(value)


def _run_one(req: dict, base_env: dict[bytes, bytes], base_cwd: str, saved: tuple[int, int]) -> int:
    code = 1
    try:
        enter_attempt(req["cwd"], req["stdout"], req["stderr"])
        _set_env(base_env, req["env"])
        code = run_entrypoint(req["argv"], order_path_of(req["stdout"]))
    except BaseException:  # noqa: BLE001 - the attempt could not start: report it, keep serving
        traceback.print_exc()
        code = 1
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.chdir(base_cwd)
    return code


def serve(fd: int, warm: bool = True, grpc: bool = False) -> None:
    """Serve actions on `fd`; `warm`: import the SDK first (a worker not forked from the fork
    server); `grpc`: import grpc and the remote controller too, before saying ready (its actions
    call other tasks)."""
    if warm:
        preload()
    if grpc:
        try:
            preload_grpc()
        except Exception:  # noqa: BLE001 - only speed is lost: the first nested call imports it
            traceback.print_exc()
    sock = socket.socket(fileno=fd)
    reader = sock.makefile("rb")
    base_env = dict(os.environ._data)  # type: ignore[attr-defined]
    base_cwd = os.getcwd()
    saved = (os.dup(1), os.dup(2))
    cast(io.TextIOWrapper, sys.stdout).reconfigure(line_buffering=True)  # the interpreter's own streams
    cast(io.TextIOWrapper, sys.stderr).reconfigure(line_buffering=True)
    sock.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    for line in reader:
        req = json.loads(line)
        code = _run_one(req, base_env, base_cwd, saved)
        try:
            sock.sendall(json.dumps({"id": req["id"], "code": code}).encode() + b"\n")
        except OSError:
            return  # the backend is gone (its next start reads this action's result from storage)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
