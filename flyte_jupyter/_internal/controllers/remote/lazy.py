"""A controller that costs nothing until a task calls another task.

Leaf actions (most of a fan-out) never import grpc: the real remote controller, its channel and
its informers are made on the first nested call. They live on a loop of their own in a daemon
thread, so a sync task call made from async code (which blocks the action's loop until the child
ends) and calls from sync tasks on worker threads all share one channel and one watch stream per
parent without deadlocking.

That loop and its connection belong to the process, not to one action (`_Engine`): a reusable
worker's next action calls the backend over the channel an earlier one opened, whichever run it
belongs to, instead of paying a new connection (~5-10 ms, most of a nested call's time on a warm
worker). Each action's client carries its own run's credential on every call (the channel holds
none), so an action still reaches only its own run and no earlier run's credential is kept. An
action of a task known to call other tasks (the backend says so with FLYTE_JUPYTER_PRELOAD_GRPC)
starts connecting, and its watch on its own children, before its body runs (`warm`), so the
connection overlaps reading its inputs. In a warm worker, and in a forked attempt on this
machine, the calls go over the process's link to the backend instead (`link.py`; the engine holds
it), and over gRPC only once that link is gone.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from flyte_jupyter._internal.controllers.base import Controller

if TYPE_CHECKING:  # imported when a worker's link is first used (`_Engine.link`)
    from flyte_jupyter._internal.controllers.remote.link import Link


class _Engine:
    """The controllers' loop (in a daemon thread) and one connection per backend (endpoint and
    TLS settings): shared by every action this process runs (see the module docstring). A forked
    child makes its own: an engine is never used across a fork (`pid`)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.connections: dict[tuple, Any] = {}  # (endpoint, insecure, ca_cert) -> the client owning the channel
        self._link: Link | None = None
        threading.Thread(target=self.loop.run_forever, name="flyte-controller", daemon=True).start()

    def client(self, project: str, domain: str) -> Any:
        """A client with this action's credential (from its environment) over the process's one
        connection to its backend."""
        from flyte_jupyter._internal.client.grpc_client import BackendClient

        env = os.environ
        endpoint, insecure = env["FLYTE_JUPYTER_ENDPOINT"], env.get("FLYTE_JUPYTER_INSECURE", "1") == "1"
        ca_cert = env.get("FLYTE_JUPYTER_CA_CERT") or None
        key = (endpoint, insecure, ca_cert)
        owner = self.connections.get(key)
        if owner is None:  # holds the channel only: no credential
            owner = self.connections[key] = BackendClient(endpoint, None, insecure=insecure, ca_cert=ca_cert)
        return BackendClient(endpoint, env.get("FLYTE_JUPYTER_TOKEN"), insecure=insecure, ca_cert=ca_cert,
                             project=project, domain=domain, channels_of=owner)

    def link(self) -> "Link | None":
        """This process's link to its backend (`link.py`): a warm worker's, or the one a forked
        attempt asks for now; None in any other process."""
        from flyte_jupyter._internal.controllers.remote.link import Link
        from flyte_jupyter._internal.runtime.worker_link import request

        if self._link is None and (fd := request()) >= 0:
            self._link = Link(fd)
        return self._link


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None or _ENGINE.pid != os.getpid() or _ENGINE.loop.is_closed():
            _ENGINE = _Engine()
        return _ENGINE


class LazyRemoteController(Controller):
    def __init__(self, *, run_name: str, project: str, domain: str, code: Any, raw_data_path: str) -> None:
        self._kwargs = dict(run_name=run_name, project=project, domain=domain, code=code, raw_data_path=raw_data_path)
        self._real: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        # Calls cross between the action's loop and the controller's in batches: a gather of a
        # thousand children costs a few thread wake-ups, not two per child.
        self._inbox: list[list] = []  # [real, task, args, kwargs, caller, fut, task on our loop]
        self._outbox: dict[asyncio.AbstractEventLoop, list[tuple]] = {}

    def _start(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        with self._lock:
            if self._real is None:
                from flyte_jupyter._internal.controllers.remote.controller import (
                    RemoteController,
                )

                engine = _engine()
                self._loop = engine.loop
                self._real = RemoteController(**self._kwargs, client=engine.client(self._kwargs["project"],
                                                                                   self._kwargs["domain"]),
                                              owns_client=False, link=engine.link())
            if self._loop is None:  # set together with _real above
                raise RuntimeError("the remote controller has no loop")
            return self._real, self._loop

    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        real, loop = self._start()
        caller = asyncio.get_running_loop()
        fut = caller.create_future()
        call = [real, task, args, kwargs, caller, fut, None]  # [6]: the task on the controller's loop
        with self._lock:
            self._inbox.append(call)
            first = len(self._inbox) == 1
        if first:
            loop.call_soon_threadsafe(self._drain)
        try:
            return await fut
        except asyncio.CancelledError:
            loop.call_soon_threadsafe(self._cancel, call)
            raise

    # -- on the controller's loop ---------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            calls, self._inbox = self._inbox, []
        for call in calls:
            if call[5].cancelled():
                continue
            call[6] = asyncio.ensure_future(call[0].submit(call[1], call[2], call[3]))
            call[6].add_done_callback(lambda t, call=call: self._deliver(call, t))

    @staticmethod
    def _cancel(call: list) -> None:
        if call[6] is not None:
            call[6].cancel()

    def _deliver(self, call: list, done: asyncio.Future) -> None:
        caller = call[4]
        with self._lock:
            box = self._outbox.setdefault(caller, [])
            box.append((call[5], done))
            first = len(box) == 1
        if first:
            try:
                caller.call_soon_threadsafe(self._settle, caller)
            except RuntimeError:  # the caller's loop is closed: nobody waits any more
                with self._lock:
                    self._outbox.pop(caller, None)

    # -- on the caller's loop -------------------------------------------------------------------

    def _settle(self, caller: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            results = self._outbox.pop(caller, [])
        for fut, done in results:
            if fut.done():
                continue
            if done.cancelled():
                fut.cancel()
            elif done.exception() is not None:
                fut.set_exception(done.exception())
            else:
                fut.set_result(done.result())

    def warm(self, parent: str) -> None:
        """Start connecting to the backend and watching `parent`'s children now, without waiting:
        for an action that will call other tasks (see the module docstring)."""
        real, loop = self._start()
        if real.link is not None:
            return  # the process's link is open already: its watch goes out with the first call
        loop.call_soon_threadsafe(real.warm, parent)

    def submit_sync(self, task: Any, args: tuple, kwargs: dict) -> Any:
        real, loop = self._start()
        return asyncio.run_coroutine_threadsafe(real.submit(task, args, kwargs), loop).result()

    async def record_trace(self, name: str, func: Callable[[], Awaitable[Any]], inputs: dict[str, Any]) -> Any:
        return await func()

    async def aclose(self) -> None:
        loop = self._loop
        if self._real is None or loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._real.aclose(), loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(fut), 5)
        except Exception:  # noqa: BLE001 - closing is best effort; the process exits next
            pass  # the loop and the client stay for the process's next action (`_Engine`)
