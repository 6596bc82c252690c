"""A warm, reusable worker process: runs one action after another for a reusable environment.

An environment declared with `reusable=flyte.ReusePolicy(replicas=..., idle_ttl=...)` keeps up to
`replicas` of these per (interpreter, environment, version). A worker has imported the SDK and, after
its first action, the task's module, so an action costs what the task body costs: no fork, no
import. Between actions the worker restores its environment variables, working directory and
stdout/stderr (each action's output goes to its own attempt's log files). It runs in its own process
group: aborting or timing out an action kills the worker, and the pool starts a fresh one.

Protocol over the inherited socket (JSON lines):
  backend -> worker  {"id": N, "argv": [...], "env": {...}, "cwd": D, "stdout": F, "stderr": F}
  worker -> backend  {"ready": true, "pid": P} once, then {"id": N, "code": C} per action
The worker exits when the backend's end closes (after finishing the action it runs).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import traceback


def _restore_env(base_env: dict[str, str]) -> None:
    """Put the worker's environment back as it was at start, touching only what changed."""
    current = os.environ
    for key in [k for k in current if k not in base_env]:
        del current[key]
    for key, value in base_env.items():
        if current.get(key) != value:
            current[key] = value


def _run_one(req: dict, base_env: dict[str, str], base_cwd: str, saved: tuple[int, int]) -> int:
    code = 1
    try:
        os.makedirs(req["cwd"], exist_ok=True)
        os.chdir(req["cwd"])
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        _restore_env(base_env)
        os.environ.update(req["env"])
        from flyte_jupyter import entrypoint

        code = entrypoint.main(req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything, keep serving
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.chdir(base_cwd)
    return code


def serve(fd: int, preload: bool = True) -> None:
    if preload:
        from ._zygote import _preload

        _preload()
    sock = socket.socket(fileno=fd)
    reader = sock.makefile("rb")
    base_env = dict(os.environ)
    base_cwd = os.getcwd()
    saved = (os.dup(1), os.dup(2))
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sock.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    for line in reader:
        req = json.loads(line)
        code = _run_one(req, base_env, base_cwd, saved)
        sock.sendall(json.dumps({"id": req["id"], "code": code}).encode() + b"\n")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
