"""A controller that costs nothing until a task calls another task.

Leaf actions (most of a fan-out) never import grpc: the real remote controller, its channel and
its informers are made on the first nested call. They live on a loop of their own in a daemon
thread, so a sync task call made from async code (which blocks the action's loop until the child
ends) and calls from sync tasks on worker threads all share one channel and one watch stream per
parent without deadlocking.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

from .._controller._base import Controller


class LazyRemoteController(Controller):
    def __init__(self, *, run_name: str, project: str, domain: str, code: Any, raw_data_path: str) -> None:
        self._kwargs = dict(run_name=run_name, project=project, domain=domain, code=code, raw_data_path=raw_data_path)
        self._real: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _start(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        with self._lock:
            if self._real is None:
                from ._controller import RemoteController

                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="flyte-controller", daemon=True).start()
                self._loop = loop
                self._real = RemoteController(**self._kwargs)
            return self._real, self._loop

    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        real, loop = self._start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(real.submit(task, args, kwargs), loop))

    def submit_sync(self, task: Any, args: tuple, kwargs: dict) -> Any:
        real, loop = self._start()
        return asyncio.run_coroutine_threadsafe(real.submit(task, args, kwargs), loop).result()

    async def record_trace(self, name: str, func: Callable[[], Awaitable[Any]], inputs: dict[str, Any]) -> Any:
        return await func()

    async def aclose(self) -> None:
        if self._real is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._real.aclose(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(fut), 5)
        except Exception:  # noqa: BLE001 - closing is best effort; the process exits next
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
