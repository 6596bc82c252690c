"""A warm, reusable worker process: runs one action after another for a reusable environment.

An environment declared with `reusable=flyte.ReusePolicy(replicas=..., idle_ttl=...)` keeps up to
`replicas` of these per (interpreter, environment, version). With `concurrency` > 1 (async tasks),
a worker runs up to that many actions at once on one event loop of its own (a thread), as Flyte 2
does: see `SharedLoop`. A worker has imported the SDK and, after
its first action, the task's module, so an action costs what the task body costs: no fork, no
import. Each action starts from the worker's own environment variables plus its own, and the worker
restores its working directory and stdout/stderr after it (each action's output goes to its own
attempt's log files). It runs in its own process group: aborting or timing out an action kills the
worker, and the pool starts a fresh one.

Protocol over the inherited socket (JSON lines):
  backend -> worker  {"id": N, "argv": [...], "env": {...}, "cwd": D, "stdout": F, "stderr": F, "home": H}
                     H: the worker's own directory (made at its first action, removed when it
                     exits), where it stands between actions and where concurrent actions run
                     the same with "concurrent": true: run it beside the others (`SharedLoop`)
                     {"cancel": N}: cancel the concurrent action N (an abort or a timeout)
  worker -> backend  {"ready": true, "pid": P} once, then {"id": N, "code": C} per action
A second socket, the worker's *link*, carries its actions' nested calls (enqueue a child, watch a
parent's children end) instead of gRPC: `_internal/controllers/remote/link.py` is this end, the
backend's is `link.py` here, which says the protocol. Either side may write several lines at
once (the requests of one turn of the backend's loop, the results of one turn of a worker's shared
loop): one system call and one wake-up for several actions.
The worker exits when the backend's end closes (after finishing the action it runs): an idle
worker is infrastructure and ends with the backend; a busy one is an attempt, which a restarted
backend reattaches to (its handle is the worker's pid) and whose result it reads from storage.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import sys
import threading
import traceback
from typing import Any, Callable, cast

from flyte_jupyter.backend.plugins.local.attempt import (
    RoutedStream,
    enter_attempt,
    order_path_of,
    owning_task_factory,
    preload,
    preload_grpc,
    run_entrypoint,
    run_entrypoint_shared,
)

# The variables that differ between actions that may share the worker at once (the rest of their
# environment must be equal: it is the process's).
PER_ACTION_ENV = ("FLYTE_JUPYTER_ATTEMPT", "FLYTE_JUPYTER_PARENT")


def shared_env(env: dict[str, str]) -> dict[str, str]:
    """The part of an action's environment that concurrent actions of one worker must share."""
    return {k: v for k, v in env.items() if k not in PER_ACTION_ENV}


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


class SharedLoop:
    """Actions of one worker running at once (`concurrency` > 1): each an asyncio task on one loop
    in a thread of its own, writing to its own log files (`attempt.RoutedStream`), reading its own
    attempt number (the rest of the environment is the process's and equal for all of them: an
    action with another one waits until the running ones are done). Cancelling one (an abort or a
    timeout) ends only that one; it reports as its neighbours do."""

    def __init__(self, send: Callable[[bytes], None], base_env: dict[bytes, bytes]) -> None:
        self.send = send
        self.replies: list[bytes] = []  # results of this turn of the loop, not yet sent (see `_reply`)
        self.base_env = base_env
        self.loop = asyncio.new_event_loop()
        self.loop.set_task_factory(owning_task_factory)
        self.running: dict[int, Any] = {}
        self.env: dict[str, str] | None = None
        self.idle = threading.Condition()
        sys.stdout = RoutedStream(sys.stdout, "o")  # type: ignore[assignment]
        sys.stderr = RoutedStream(sys.stderr, "e")  # type: ignore[assignment]
        threading.Thread(target=self.loop.run_forever, name="flyte-actions", daemon=True).start()

    def start(self, req: dict) -> None:
        env = shared_env(req["env"])
        if self.env != env:
            self.drain()  # another run's (or environment's) actions: after the running ones
            _set_env(self.base_env, req["env"])
            self.env = env
        environ = {**os.environ, **req["env"]}
        with self.idle:
            self.running[req["id"]] = None
        fut = asyncio.run_coroutine_threadsafe(self._one(req, environ), self.loop)
        with self.idle:
            if req["id"] in self.running:
                self.running[req["id"]] = fut

    async def _one(self, req: dict, environ: dict[str, str]) -> None:
        code = 1
        try:
            code = await run_entrypoint_shared(req, environ)
        finally:
            with self.idle:
                self.running.pop(req["id"], None)
                self.idle.notify_all()
            self._reply({"id": req["id"], "code": code})

    def _reply(self, msg: dict) -> None:
        """Send one action's result with the others that end in the same turn of the loop: one
        write for several actions. Its outputs.pb or error.pb is already in place (the result
        itself), so a worker killed before the write loses nothing: the backend reads it there."""
        if not self.replies:
            self.loop.call_soon(self._flush)
        self.replies.append(json.dumps(msg).encode() + b"\n")

    def _flush(self) -> None:
        data, self.replies = b"".join(self.replies), []
        self.send(data)

    def cancel(self, action_id: int) -> None:
        with self.idle:
            fut = self.running.get(action_id)
        if fut is not None:
            self.loop.call_soon_threadsafe(fut.cancel)

    def drain(self) -> None:
        with self.idle:
            self.idle.wait_for(lambda: not self.running)


def serve(fd: int, warm: bool = True, grpc: bool = False, link_fd: int = -1) -> None:
    """Serve actions on `fd`; `warm`: import the SDK first (a worker not forked from the fork
    server); `grpc`: import grpc and the remote controller too, before saying ready (its actions
    call other tasks); `link_fd`: the socket its actions' nested calls go over (see the module
    docstring), -1 for none."""
    if link_fd >= 0:
        from flyte_jupyter._internal.runtime import worker_link

        worker_link.attach(link_fd)
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
    saved = (os.dup(1), os.dup(2))
    cast(io.TextIOWrapper, sys.stdout).reconfigure(line_buffering=True)  # the interpreter's own streams
    cast(io.TextIOWrapper, sys.stderr).reconfigure(line_buffering=True)
    sending = threading.Lock()
    gone = threading.Event()

    def send(data: bytes) -> None:
        try:
            with sending:
                sock.sendall(data)
        except OSError:
            gone.set()  # the backend is gone (its next start reads the action's result from storage)

    def reply(msg: dict) -> None:
        send(json.dumps(msg).encode() + b"\n")

    reply({"ready": True, "pid": os.getpid()})
    home = ""  # the worker's own directory: its cwd from its first action on (see the protocol)
    base_cwd = os.getcwd()
    shared: SharedLoop | None = None
    try:
        for line in reader:
            req = json.loads(line)
            if "cancel" in req:
                if shared is not None:
                    shared.cancel(req["cancel"])
                continue
            if not home and req.get("home"):
                home = req["home"]
                os.makedirs(home, exist_ok=True)
                os.chdir(home)
            if req.get("concurrent"):
                shared = shared or SharedLoop(send, base_env)
                shared.start(req)
                continue
            if shared is not None:
                shared.drain()
                shared.env = None
                _set_env(base_env, {})
            code = _run_one(req, base_env, home or base_cwd, saved)
            reply({"id": req["id"], "code": code})
            if gone.is_set():
                return
        if shared is not None:
            shared.drain()  # the backend's end closed: finish the actions running, then exit
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), link_fd=int(sys.argv[2]) if len(sys.argv) > 2 else -1)
